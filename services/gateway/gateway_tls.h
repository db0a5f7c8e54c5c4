/*  gateway_tls - the HTTPS side of the gateway: which files, which protocols

    CivetWeb hands us its OpenSSL context before it serves HTTPS; we load
    the certificate chain and key from TLS_CERT_FILE / TLS_KEY_FILE and set
    the policy ourselves instead of trusting the library's defaults: TLS 1.2
    and 1.3 only, forward-secret AEAD suites only, no compression, no
    renegotiation, the server's preference order.
*/
#ifndef GATEWAY_TLS_H_INCLUDED
#define GATEWAY_TLS_H_INCLUDED

#include <stdbool.h>
#include "../../common/cm_config.h"

//  TLS 1.2 suites allowed (TLS 1.3 suites are all AEAD and forward secret)
#define GATEWAY_TLS12_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"   \
                              "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"   \
                              "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

//  ----------------------------------------------------------------------
//  Whether cfg asks for HTTPS (both files set)
bool
    gateway_tls_enabled (const cm_config_t *cfg);

//  ----------------------------------------------------------------------
//  Load the bridge libraries CivetWeb needs to find OpenSSL 3 (bin/tls-compat/,
//  beside the gateway binary) before CivetWeb starts. Returns 0 or -1 (logged).
int
    gateway_tls_preload (void);

//  ----------------------------------------------------------------------
//  Configure ssl_ctx (an SSL_CTX *) from cfg. Returns 0, or -1 (logged)
//  when a file is missing, unreadable, or the key does not match.
int
    gateway_tls_configure (void *ssl_ctx, const cm_config_t *cfg);

#endif
