/*  missions_cursor - fuzz the missions list cursor decoder

    A cursor comes back from any client. It must decode only when it is
    exactly what the encoder writes: decoding then encoding gives it back.
*/
#include <assert.h>
#include "../../services/missions/missions_rules.h"
#include "fuzz_input.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *cursor = fuzz_input_text (data, size);
    int64_t created_us;
    char id [37];
    if (missions_rules_cursor_decode (cursor, &created_us, id) == 0) {
        char again [MISSIONS_CURSOR_SIZE];
        assert (missions_rules_cursor_encode (created_us, id, again, sizeof again) == 0);
        assert (strcmp (again, cursor) == 0);
    }
    free (cursor);
    return 0;
}
