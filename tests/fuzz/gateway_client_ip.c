/*  gateway_client_ip - fuzz TRUSTED_PROXIES, X-Forwarded-For and address parsing

    Lines of the input: a TRUSTED_PROXIES value (a fixed one when it does
    not parse), the TCP peer, and X-Forwarded-For. Whatever the client
    sends, the answer is a normalized address or a refusal.
*/
#include <assert.h>
#include "../../services/gateway/gateway_client_ip.h"
#include "fuzz_input.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = fuzz_input_text (data, size);
    char *part [3];
    size_t count = fuzz_input_split (text, part, 3);
    char error [160];
    gateway_client_ip_t *proxies = gateway_client_ip_new (part [0], error, sizeof error);
    if (!proxies)
        proxies = gateway_client_ip_new ("10.0.0.0/8, 127.0.0.1, fd00::/8", error, sizeof error);
    assert (proxies);

    char client [GATEWAY_CLIENT_IP_SIZE], again [GATEWAY_CLIENT_IP_SIZE];
    if (gateway_client_ip_resolve (proxies, part [1], count > 2? part [2]: NULL,
                                   client, sizeof client) == 0) {
        //  The answer is an address in its one normal spelling
        assert (gateway_client_ip_normalize (client, again, sizeof again) == 0);
        assert (strcmp (client, again) == 0);
    }
    else
        assert (client [0] == '\0');
    if (gateway_client_ip_normalize (part [1], client, sizeof client) == 0) {
        assert (gateway_client_ip_normalize (client, again, sizeof again) == 0);
        assert (strcmp (client, again) == 0);
    }
    gateway_client_ip_trusted (proxies, part [1]);
    gateway_client_ip_destroy (&proxies);
    free (text);
    return 0;
}
