/*  gateway_tls - the HTTPS side of the gateway */
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "gateway_tls.h"
#include "../../common/cm_log.h"

bool
gateway_tls_enabled (const cm_config_t *cfg)
{
    return cfg->tls_cert_file && *cfg->tls_cert_file && cfg->tls_key_file && *cfg->tls_key_file;
}

static int
s_fail (const char *what, const char *path)
{
    char reason [256] = "no detail from OpenSSL";
    unsigned long code = ERR_peek_last_error ();
    if (code)
        ERR_error_string_n (code, reason, sizeof reason);
    ERR_clear_error ();
    cm_log_fields (CM_LOG_ERROR, "TLS set-up failed", "step", what, "file", path, "reason", reason,
                   (const char *) NULL);
    return -1;
}

int
gateway_tls_preload (void)
{
    char exe [PATH_MAX];
    ssize_t len = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        cm_error ("TLS: cannot find the gateway's own directory");
        return -1;
    }
    exe [len] = 0;
    const char *dir = dirname (exe);
    //  Loaded once for the life of the process (never closed): CivetWeb's
    //  own dlopen of "libcrypto.so" and "libssl.so" then finds these by soname
    const char *names [] = { "libcrypto.so", "libssl.so" };
    for (size_t i = 0; i < 2; i++) {
        char path [PATH_MAX + 64];
        snprintf (path, sizeof path, "%s/tls-compat/%s", dir, names [i]);
        if (!dlopen (path, RTLD_NOW | RTLD_GLOBAL)) {
            cm_log_fields (CM_LOG_ERROR, "TLS: cannot load a bridge library", "file", path,
                           "reason", dlerror (), (const char *) NULL);
            return -1;
        }
    }
    return 0;
}

int
gateway_tls_configure (void *ssl_ctx_, const cm_config_t *cfg)
{
    SSL_CTX *ctx = (SSL_CTX *) ssl_ctx_;
    if (!ctx || !gateway_tls_enabled (cfg))
        return -1;
    if (SSL_CTX_set_min_proto_version (ctx, TLS1_2_VERSION) != 1
    ||  SSL_CTX_set_max_proto_version (ctx, 0) != 1)
        return s_fail ("protocol versions", "");
    if (SSL_CTX_set_cipher_list (ctx, GATEWAY_TLS12_CIPHERS) != 1)
        return s_fail ("cipher list", "");
    SSL_CTX_set_options (ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
                            | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file (ctx, cfg->tls_cert_file) != 1)
        return s_fail ("certificate chain", cfg->tls_cert_file);
    if (SSL_CTX_use_PrivateKey_file (ctx, cfg->tls_key_file, SSL_FILETYPE_PEM) != 1)
        return s_fail ("private key", cfg->tls_key_file);
    if (SSL_CTX_check_private_key (ctx) != 1)
        return s_fail ("key does not match the certificate", cfg->tls_key_file);
    return 0;
}
