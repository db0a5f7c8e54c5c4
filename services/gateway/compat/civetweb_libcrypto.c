/*  civetweb_libcrypto - "libcrypto.so" for Debian 12's CivetWeb

    The companion of civetweb_libssl.c: CivetWeb opens "libcrypto.so", a
    name only the -dev package provides. This library carries that soname
    and depends on the real libcrypto.so.3, which answers every lookup.
*/
int civetweb_libcrypto_compat (void);

int
civetweb_libcrypto_compat (void)
{
    return 3;
}
