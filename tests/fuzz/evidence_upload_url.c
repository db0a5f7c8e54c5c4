/*  evidence_upload_url - fuzz the signed upload URL: query parsing, then the signature check

    The query of PUT /api/v1/evidence/{id}/upload is the upload's only
    credential. It is parsed as the gateway does, then checked as the
    evidence service does against one fixed upload (key, user, id, type,
    size) at a fixed time. A URL is accepted only with the signature the
    service itself makes for the expiry it carries.
*/
#include <assert.h>
#include "../../services/evidence/evidence_url.h"
#include "../../services/gateway/gateway_api_evidence.h"

#define S_NOW           INT64_C (1700000000)
#define S_USER          "0b6f3c2e-8a51-4c1d-9e2f-1a2b3c4d5e6f"
#define S_EVIDENCE      "5d0c1e7a-3b2f-4e8d-9a61-7c2b9e0f4a13"
#define S_TYPE          "image/png"
#define S_SIZE          INT64_C (1048576)

//  The URL key of this one deployment: 32 bytes 0x00..0x1f
static uint8_t s_key [32];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    for (int i = 0; i < 32; i++)
        s_key [i] = (uint8_t) i;
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    int64_t expires = 0;
    char sig [GATEWAY_API_EVIDENCE_SIG_SIZE];
    if (gateway_api_evidence_url_query ((const char *) data, size, &expires, sig))
        return 0;
    int verdict = evidence_url_verify (s_key, S_USER, S_EVIDENCE, S_TYPE, S_SIZE, expires, sig, S_NOW);
    assert (verdict == EVIDENCE_URL_VALID || verdict == EVIDENCE_URL_BAD
         || verdict == EVIDENCE_URL_EXPIRED);
    if (verdict != EVIDENCE_URL_BAD) {
        char expected [EVIDENCE_URL_SIG_SIZE];
        assert (evidence_url_sign (s_key, S_USER, S_EVIDENCE, S_TYPE, S_SIZE, expires, expected) == 0);
        assert (strcmp (sig, expected) == 0);
        assert ((verdict == EVIDENCE_URL_VALID) == (expires >= S_NOW));
    }
    return 0;
}
