/*  missions_cursor - fuzz the page cursor decoder (missions and evidence lists)

    A cursor comes back from any client. It must decode only when it is
    exactly what the encoder writes: decoding then encoding gives it back.
*/
#include <assert.h>
#include <string.h>
#include "../../common/cm_cursor.h"
#include "fuzz_input.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *cursor = fuzz_input_text (data, size);
    int64_t created_us;
    char id [37];
    if (cm_cursor_decode (cursor, &created_us, id) == 0) {
        char again [CM_CURSOR_SIZE];
        assert (cm_cursor_encode (created_us, id, again, sizeof again) == 0);
        assert (strcmp (again, cursor) == 0);
    }
    free (cursor);
    return 0;
}
