/*  gateway_form - fuzz the OAuth2 token form and the query strings of the routes

    Both are application/x-www-form-urlencoded: the token route reads its
    five parameters, the list routes read an integer and a string. The same
    bytes go through each; a decoded value always fits its buffer.
*/
#include <assert.h>
#include "../../services/gateway/gateway_api_auth.h"
#include "../../services/gateway/gateway_body.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    gateway_api_token_form_t form;
    if (gateway_api_token_form (text, size, &form) == 0) {
        assert (form.has_grant_type);
        assert (strlen (form.password) < sizeof form.password);
    }
    int64_t limit;
    bool present;
    char error [160], cursor [256];
    int status = gateway_body_form_integer (text, size, "limit", &limit, &present, error, sizeof error);
    assert (status == 0 || status == 400 || status == 422);
    gateway_body_form_get (text, size, "cursor", cursor, sizeof cursor, &present);
    return 0;
}
