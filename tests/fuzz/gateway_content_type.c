/*  gateway_content_type - fuzz the Content-Type check of bodies */
#include <assert.h>
#include "../../services/gateway/gateway_body.h"
#include "fuzz_input.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *header = fuzz_input_text (data, size);
    int json = gateway_body_check_type (header, "application/json");
    int form = gateway_body_check_type (header, "application/x-www-form-urlencoded");
    assert ((json == 0 || json == 415) && (form == 0 || form == 415));
    assert (json || form);             //  one header, one type
    free (header);
    return 0;
}
