/*  privacy_cursor - fuzz the export cursor decoder

    The cursor of an export part travels through the gateway and back. It
    must decode only when it is exactly what the encoder writes: decoding
    then encoding gives it back, and a refused cursor leaves the beginning.
*/
#include <assert.h>
#include "../../services/privacy/privacy_cursor.h"
#include "fuzz_input.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = fuzz_input_text (data, size);
    privacy_cursor_t cursor;
    if (privacy_cursor_decode (text, &cursor) == 0) {
        char again [PRIVACY_CURSOR_SIZE];
        assert (privacy_cursor_encode (&cursor, again, sizeof again) == 0);
        assert (strcmp (again, text) == 0);
    }
    else {
        privacy_cursor_t start;
        privacy_cursor_init (&start);
        assert (memcmp (&cursor, &start, sizeof start) == 0);
    }
    free (text);
    return 0;
}
