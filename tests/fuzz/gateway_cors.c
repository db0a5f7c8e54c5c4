/*  gateway_cors - fuzz CORS_ALLOWED_ORIGINS and the CORS decision on request headers

    Lines of the input: a CORS_ALLOWED_ORIGINS value (a fixed one when it
    does not parse), the method, Origin, Access-Control-Request-Method,
    Access-Control-Request-Headers and the route's methods. The decision
    never echoes an origin it does not allow, and its headers always fit.
*/
#include <assert.h>
#include "../../services/gateway/gateway_cors.h"
#include "fuzz_input.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = fuzz_input_text (data, size);
    char *part [6];
    size_t count = fuzz_input_split (text, part, 6);
    char error [160];
    gateway_cors_t *cors = gateway_cors_new (part [0], error, sizeof error);
    if (!cors)
        cors = gateway_cors_new ("https://app.example, http://localhost:3000", error, sizeof error);
    assert (cors);

    gateway_cors_result_t result;
    gateway_cors_decide (cors, part [1], count > 2? part [2]: NULL, count > 3? part [3]: NULL,
                         count > 4? part [4]: NULL, part [5], &result);
    if (result.allow_origin) {
        assert (gateway_cors_allowed (cors, result.allow_origin));
        assert (strcmp (result.allow_origin, part [2]) == 0);
    }
    //  512 bytes plus the origin and the methods always fit
    char headers [512 + GATEWAY_CORS_ORIGIN_MAX + GATEWAY_CORS_METHODS_MAX];
    size_t len = 0;
    headers [0] = '\0';
    assert (gateway_cors_headers (&result, headers, sizeof headers, &len) == 0);
    assert (len == strlen (headers));
    gateway_cors_destroy (&cors);
    free (text);
    return 0;
}
