/*  gateway_stack - a floor under the stack size of CivetWeb's threads

    Debian's CivetWeb is built with a fixed 100 KiB thread stack and offers
    no option to change it. A request's path through CivetWeb, msgpack,
    ZeroMQ and OpenSSL fits in that only with little to spare (and not at
    all under AddressSanitizer), so the gateway, which links CivetWeb,
    defines pthread_attr_setstacksize and raises any smaller request to
    GATEWAY_MIN_STACK before passing it on. Pages are only committed when
    touched, so the cost is address space, not memory.
*/
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>

#define GATEWAY_MIN_STACK (1024 * 1024)

typedef int (setstacksize_fn) (pthread_attr_t *attr, size_t size);

int
pthread_attr_setstacksize (pthread_attr_t *attr, size_t size)
{
    static _Atomic (setstacksize_fn *) real;
    setstacksize_fn *next = atomic_load (&real);
    if (!next) {
        next = (setstacksize_fn *) dlsym (RTLD_NEXT, "pthread_attr_setstacksize");
        atomic_store (&real, next);
    }
    return next (attr, size < GATEWAY_MIN_STACK? GATEWAY_MIN_STACK: size);
}
