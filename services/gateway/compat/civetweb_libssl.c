/*  civetweb_libssl - what Debian 12's CivetWeb needs to find in "libssl.so"

    libcivetweb1 1.15 loads OpenSSL at run time by the names "libssl.so"
    and "libcrypto.so" and looks up SSL_get_peer_certificate, which
    OpenSSL 3 renamed to SSL_get1_peer_certificate (same meaning: the
    caller owns a reference). Without it CivetWeb turns TLS off. This
    library carries the soname "libssl.so", depends on the real libssl.so.3
    and adds that one symbol; the gateway loads it before CivetWeb starts,
    so CivetWeb's dlopen finds it by soname and every other lookup falls
    through to OpenSSL itself.
*/
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate
X509 *SSL_get_peer_certificate (const SSL *ssl);

X509 *
SSL_get_peer_certificate (const SSL *ssl)
{
    return SSL_get1_peer_certificate (ssl);
}
