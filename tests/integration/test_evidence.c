/*  test_evidence - the Evidence table of the contract over HTTP at the gateway */
#include <criterion/criterion.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include "api.h"
#include "cm_crypt.h"
#include "cm_jwt.h"

TestSuite (evidence, .timeout = 120);

static const uint8_t PNG_MAGIC [8] = { 0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a };

//  A file of size bytes of type: the right magic, then a recognisable
//  pattern (never plain text, so it cannot be found on disk by accident)
static uint8_t *
s_file (const char *type, size_t size)
{
    uint8_t *data = malloc (size + 1);
    for (size_t i = 0; i < size; i++)
        data [i] = (uint8_t) ((i * 131 + 7) % 251);
    if (streq (type, "image/png"))
        memcpy (data, PNG_MAGIC, size < 8? size: 8);
    else
    if (streq (type, "application/pdf"))
        memcpy (data, "%PDF-1.7\n", size < 9? size: 9);
    else
    if (streq (type, "text/plain"))
        for (size_t i = 0; i < size; i++)
            data [i] = (uint8_t) ("Field notes, day one. "[i % 22]);
    return data;
}

typedef struct {
    char mission [37];
    char id [37];
    char url [1024];
    char expires_at [40];
} upload_t;

static long
s_mission (const char *access, char *id)
{
    stack_http_t *res = malloc (sizeof *res);
    long status = api_call ("POST", "/api/v1/missions", access, "{\"title\":\"With files\",\"duration_minutes\":30}", res);
    cr_assert_eq (status, 201, "%s", res->body);
    json_t *mission = api_json (res);
    snprintf (id, 37, "%s", api_str (mission, "id"));
    json_decref (mission);
    free (res);
    return status;
}

//  POST upload-url; on 201 fills up
static long
s_upload_url (const char *access, const char *mission, const char *filename, const char *type,
              long long size, upload_t *up, stack_http_t *res)
{
    char body [1024];
    snprintf (body, sizeof body, "{\"mission_id\":\"%s\",\"filename\":\"%s\",\"content_type\":\"%s\",\"size_bytes\":%lld}",
              mission, filename, type, size);
    long status = api_call ("POST", "/api/v1/evidence/upload-url", access, body, res);
    if (status == 201) {
        json_t *reply = api_json (res);
        snprintf (up->mission, sizeof up->mission, "%s", mission);
        snprintf (up->id, sizeof up->id, "%s", api_str (reply, "evidence_id"));
        snprintf (up->url, sizeof up->url, "%s", api_str (reply, "upload_url"));
        snprintf (up->expires_at, sizeof up->expires_at, "%s", api_str (reply, "expires_at"));
        cr_assert_str_eq (api_str (reply, "method"), "PUT");
        json_decref (reply);
    }
    return status;
}

//  PUT bytes to url with type as Content-Type; no bearer token
static long
s_put (const char *url, const char *type, const void *data, size_t len, stack_http_t *res)
{
    char header [128];
    snprintf (header, sizeof header, "Content-Type: %s", type);
    stack_http_bytes ("PUT", url, header, data, len, res, NULL, NULL);
    return res->status;
}

//  A mission and a stored file of type and size; returns the data (caller frees)
static uint8_t *
s_stored (const char *access, const char *type, size_t size, upload_t *up)
{
    stack_http_t *res = malloc (sizeof *res);
    char mission [37];
    s_mission (access, mission);
    cr_assert_eq (s_upload_url (access, mission, "notes.bin", type, (long long) size, up, res), 201, "%s", res->body);
    uint8_t *data = s_file (type, size);
    cr_assert_eq (s_put (up->url, type, data, size, res), 201, "%s", res->body);
    free (res);
    return data;
}

static void
s_sha256_hex (const uint8_t *data, size_t len, char *hex)
{
    uint8_t digest [32];
    SHA256 (data, len, digest);
    for (int i = 0; i < 32; i++)
        sprintf (hex + 2 * i, "%02x", digest [i]);
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0;
}

//  The stored file of evidence id under EVIDENCE_DIR
static void
s_stored_path (const char *id, char *path, size_t size)
{
    snprintf (path, size, "%s/evidence/files/%s", stack_env ("RUN_DIR"), id);
}

Test (evidence, upload_then_download_the_same_bytes)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], path [160];
    api_new_user ("uploader", access, NULL);
    upload_t up;
    size_t size = 300 * 1024 + 17;               //  several chunks, a ragged end
    char mission [37];
    s_mission (access, mission);
    cr_assert_eq (s_upload_url (access, mission, "ridge photo.png", "image/png", (long long) size, &up, res),
                  201, "%s", res->body);
    cr_assert_eq (strncmp (up.url, "http", 4), 0, "an absolute URL: %s", up.url);
    cr_assert_not_null (strstr (up.url, up.id), "%s", up.url);
    cr_assert_null (strstr (up.url, "ridge"), "the client's filename is not in the URL");
    cr_assert_eq (strlen (up.expires_at), 20, "RFC 3339 UTC: %s", up.expires_at);

    //  Pending until the upload lands
    snprintf (path, sizeof path, "/api/v1/evidence/%s", up.id);
    cr_assert_eq (api_get (path, access, res), 200, "%s", res->body);
    cr_assert_not_null (strstr (res->body, "\"status\":\"pending\""), "%s", res->body);

    uint8_t *data = s_file ("image/png", size);
    cr_assert_eq (s_put (up.url, "image/png", data, size, res), 201, "%s", res->body);
    json_t *evidence = api_json (res);
    char sha [65];
    s_sha256_hex (data, size, sha);
    cr_assert_str_eq (api_str (evidence, "id"), up.id);
    cr_assert_str_eq (api_str (evidence, "mission_id"), mission);
    cr_assert_str_eq (api_str (evidence, "filename"), "ridge photo.png");
    cr_assert_str_eq (api_str (evidence, "content_type"), "image/png");
    cr_assert_eq (json_integer_value (json_object_get (evidence, "size_bytes")), (json_int_t) size);
    cr_assert_str_eq (api_str (evidence, "sha256"), sha);
    cr_assert_str_eq (api_str (evidence, "status"), "stored");
    json_decref (evidence);

    cr_assert_eq (api_get (path, access, res), 200);
    cr_assert_not_null (strstr (res->body, "\"status\":\"stored\""), "%s", res->body);
    char list [128];
    snprintf (list, sizeof list, "/api/v1/evidence?mission_id=%s", mission);
    cr_assert_eq (api_get (list, access, res), 200, "%s", res->body);
    cr_assert_not_null (strstr (res->body, up.id), "%s", res->body);

    //  Download: the same bytes, as an attachment, not sniffable
    snprintf (path, sizeof path, "/api/v1/evidence/%s/content", up.id);
    char header [API_TOKEN_MAX + 64];
    snprintf (header, sizeof header, "Authorization: Bearer %s", access);
    char *got = NULL;
    size_t got_len = 0;
    stack_http_bytes ("GET", path, header, NULL, 0, res, &got, &got_len);
    cr_assert_eq (res->status, 200, "%s", res->body);
    cr_assert_eq (got_len, size);
    cr_assert_eq (memcmp (got, data, size), 0, "download bytes equal upload bytes");
    char value [256];
    cr_assert (stack_http_header (res, "Content-Type", value, sizeof value));
    cr_assert_str_eq (value, "image/png");
    cr_assert (stack_http_header (res, "Content-Disposition", value, sizeof value));
    cr_assert_eq (strncmp (value, "attachment", 10), 0, "%s", value);
    cr_assert (stack_http_header (res, "X-Content-Type-Options", value, sizeof value));
    cr_assert_str_eq (value, "nosniff");
    free (got);

    //  At rest: named by id, encrypted
    char stored [512];
    s_stored_path (up.id, stored, sizeof stored);
    FILE *file = fopen (stored, "rb");
    cr_assert_not_null (file, "stored as %s", stored);
    uint8_t *disk = malloc (size + 4096);
    size_t disk_len = fread (disk, 1, size + 4096, file);
    fclose (file);
    cr_assert_gt (disk_len, size, "ciphertext carries tags");
    cr_assert_null (memmem (disk, disk_len, data + 1024, 64), "the plaintext is not on disk");
    cr_assert_null (memmem (disk, disk_len, PNG_MAGIC, 8), "not even its header");
    free (disk);
    free (data);
    free (res);
}

Test (evidence, a_text_file_and_a_pdf_round_trip)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], path [160], header [API_TOKEN_MAX + 64];
    api_new_user ("kinds", access, NULL);
    snprintf (header, sizeof header, "Authorization: Bearer %s", access);
    const char *types [] = { "text/plain", "application/pdf" };
    for (size_t i = 0; i < 2; i++) {
        upload_t up;
        uint8_t *data = s_stored (access, types [i], 1000, &up);
        snprintf (path, sizeof path, "/api/v1/evidence/%s/content", up.id);
        char *got = NULL;
        size_t got_len = 0;
        stack_http_bytes ("GET", path, header, NULL, 0, res, &got, &got_len);
        cr_assert_eq (res->status, 200);
        cr_assert_eq (got_len, 1000);
        cr_assert_eq (memcmp (got, data, 1000), 0);
        free (got);
        free (data);
    }
    free (res);
}

Test (evidence, size_limits_on_both_sides)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], mission [37];
    api_new_user ("sizes", access, NULL);
    s_mission (access, mission);
    upload_t up;
    cr_assert_eq (s_upload_url (access, mission, "big.png", "image/png", 10485761, &up, res), 413, "%s", res->body);
    cr_assert_eq (s_upload_url (access, mission, "none.png", "image/png", 0, &up, res), 422, "%s", res->body);
    cr_assert_eq (s_upload_url (access, mission, "neg.png", "image/png", -1, &up, res), 422);
    //  Exactly the limit is accepted, and lands whole
    cr_assert_eq (s_upload_url (access, mission, "max.png", "image/png", 10485760, &up, res), 201, "%s", res->body);
    uint8_t *data = s_file ("image/png", 10485760);
    cr_assert_eq (s_put (up.url, "image/png", data, 10485760, res), 201, "%s", res->body);
    char sha [65];
    s_sha256_hex (data, 10485760, sha);
    cr_assert_not_null (strstr (res->body, sha), "%s", res->body);
    free (data);
    free (res);
}

Test (evidence, only_allowed_types_and_matching_bytes)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], mission [37], path [160];
    api_new_user ("types", access, NULL);
    s_mission (access, mission);
    upload_t up;
    const char *refused [] = { "image/gif", "text/html", "application/octet-stream", "image/svg+xml" };
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq (s_upload_url (access, mission, "f", refused [i], 100, &up, res), 415, "%s: %s",
                      refused [i], res->body);

    //  Declared PNG, sent PDF bytes: 415 and nothing is kept
    cr_assert_eq (s_upload_url (access, mission, "fake.png", "image/png", 2000, &up, res), 201);
    uint8_t *pdf = s_file ("application/pdf", 2000);
    cr_assert_eq (s_put (up.url, "image/png", pdf, 2000, res), 415, "%s", res->body);
    snprintf (path, sizeof path, "/api/v1/evidence/%s", up.id);
    cr_assert_eq (api_get (path, access, res), 404, "nothing kept: %s", res->body);
    char stored [512];
    s_stored_path (up.id, stored, sizeof stored);
    cr_assert_not (s_exists (stored));
    free (pdf);

    //  A Content-Type header other than the declared one
    cr_assert_eq (s_upload_url (access, mission, "a.png", "image/png", 100, &up, res), 201);
    uint8_t *png = s_file ("image/png", 100);
    cr_assert_eq (s_put (up.url, "image/jpeg", png, 100, res), 415, "%s", res->body);
    free (png);

    //  text/plain must be UTF-8 text
    cr_assert_eq (s_upload_url (access, mission, "a.txt", "text/plain", 4, &up, res), 201);
    cr_assert_eq (s_put (up.url, "text/plain", "\xff\xfe\x00\x41", 4, res), 415, "%s", res->body);
    free (res);
}

Test (evidence, a_body_larger_or_smaller_than_declared_keeps_nothing)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], mission [37], path [160], stored [512];
    api_new_user ("liar", access, NULL);
    s_mission (access, mission);
    upload_t up;
    cr_assert_eq (s_upload_url (access, mission, "a.png", "image/png", 1000, &up, res), 201);
    uint8_t *data = s_file ("image/png", 600 * 1024);
    cr_assert_eq (s_put (up.url, "image/png", data, 1001, res), 413, "%s", res->body);
    snprintf (path, sizeof path, "/api/v1/evidence/%s", up.id);
    cr_assert_eq (api_get (path, access, res), 404);
    s_stored_path (up.id, stored, sizeof stored);
    cr_assert_not (s_exists (stored));

    //  Much larger than declared (the gateway stops reading past the limit)
    cr_assert_eq (s_upload_url (access, mission, "b.png", "image/png", 300 * 1024, &up, res), 201);
    cr_assert_eq (s_put (up.url, "image/png", data, 600 * 1024, res), 413, "%s", res->body);
    snprintf (path, sizeof path, "/api/v1/evidence/%s", up.id);
    cr_assert_eq (api_get (path, access, res), 404);

    //  Shorter than declared
    cr_assert_eq (s_upload_url (access, mission, "c.png", "image/png", 1000, &up, res), 201);
    long status = s_put (up.url, "image/png", data, 999, res);
    cr_assert (status == 400 || status == 413, "%ld %s", status, res->body);
    snprintf (path, sizeof path, "/api/v1/evidence/%s", up.id);
    cr_assert_eq (api_get (path, access, res), 404);
    free (data);
    free (res);
}

//  The URL with one query value replaced
static void
s_with (const char *url, const char *name, const char *value, char *out, size_t size)
{
    const char *query = strchr (url, '?');
    cr_assert_not_null (query);
    snprintf (out, size, "%.*s?", (int) (query - url), url);
    char copy [1024];
    snprintf (copy, sizeof copy, "%s", query + 1);
    bool first = true;
    for (char *save = NULL, *pair = strtok_r (copy, "&", &save); pair; pair = strtok_r (NULL, "&", &save)) {
        size_t len = strlen (out);
        if (strncmp (pair, name, strlen (name)) == 0 && pair [strlen (name)] == '=')
            snprintf (out + len, size - len, "%s%s=%s", first? "": "&", name, value);
        else
            snprintf (out + len, size - len, "%s%s", first? "": "&", pair);
        first = false;
    }
}

static void
s_query_value (const char *url, const char *name, char *value, size_t size)
{
    char key [32];
    snprintf (key, sizeof key, "%s=", name);
    const char *at = strstr (strchr (url, '?'), key);
    cr_assert_not_null (at, "%s has no %s", url, name);
    at += strlen (key);
    snprintf (value, size, "%.*s", (int) strcspn (at, "&"), at);
}

Test (evidence, tampered_expired_and_reused_urls_are_refused)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], user_id [37], mission [37], url [1024], sig [128], expires [32];
    api_new_user ("tamper", access, user_id);
    s_mission (access, mission);
    upload_t up;
    uint8_t *data = s_file ("image/png", 500);
    cr_assert_eq (s_upload_url (access, mission, "a.png", "image/png", 500, &up, res), 201);
    s_query_value (up.url, "sig", sig, sizeof sig);
    s_query_value (up.url, "expires", expires, sizeof expires);

    //  A flipped signature character, a later expiry, another evidence id
    char bad_sig [128];
    snprintf (bad_sig, sizeof bad_sig, "%s", sig);
    bad_sig [3] = bad_sig [3] == 'A'? 'B': 'A';
    s_with (up.url, "sig", bad_sig, url, sizeof url);
    cr_assert_eq (s_put (url, "image/png", data, 500, res), 403, "%s", res->body);
    char later [32];
    snprintf (later, sizeof later, "%lld", atoll (expires) + 3600);
    s_with (up.url, "expires", later, url, sizeof url);
    cr_assert_eq (s_put (url, "image/png", data, 500, res), 403);
    s_with (up.url, "sig", "", url, sizeof url);
    cr_assert_eq (s_put (url, "image/png", data, 500, res), 403);
    upload_t other;
    cr_assert_eq (s_upload_url (access, mission, "b.png", "image/png", 500, &other, res), 201);
    char swapped [1024];
    snprintf (swapped, sizeof swapped, "%s", up.url);
    memcpy (strstr (swapped, up.id), other.id, 36);
    cr_assert_eq (s_put (swapped, "image/png", data, 500, res), 403, "a signature is for one evidence id");

    //  Expired: signed correctly (with the deployment's key) but in the past
    uint8_t key [CM_CRYPT_KEY_BYTES];
    char key_path [512];
    snprintf (key_path, sizeof key_path, "%s/secrets/upload_url.key", stack_env ("KEYS_DIR"));
    cr_assert_eq (cm_crypt_load_key (key_path, key), 0);
    char past [32], message [256], past_sig [64], past_url [1024];
    snprintf (past, sizeof past, "%lld", (long long) (zclock_time () / 1000 - 10));
    snprintf (message, sizeof message, "v1\n%s\n%s\nimage/png\n500\n%s", user_id, up.id, past);
    uint8_t mac [32];
    unsigned int mac_len = 0;
    HMAC (EVP_sha256 (), key, sizeof key, (const uint8_t *) message, strlen (message), mac, &mac_len);
    cr_assert_gt (cm_jwt_b64url_encode (mac, mac_len, past_sig, sizeof past_sig), 0);
    //  The same recipe with the URL's own expiry gives the URL's signature
    char own [256], own_sig [64];
    snprintf (own, sizeof own, "v1\n%s\n%s\nimage/png\n500\n%s", user_id, up.id, expires);
    HMAC (EVP_sha256 (), key, sizeof key, (const uint8_t *) own, strlen (own), mac, &mac_len);
    cm_jwt_b64url_encode (mac, mac_len, own_sig, sizeof own_sig);
    cr_assert_str_eq (own_sig, sig, "the test signs as the service does");
    s_with (up.url, "expires", past, url, sizeof url);
    s_with (url, "sig", past_sig, past_url, sizeof past_url);
    cr_assert_eq (s_put (past_url, "image/png", data, 500, res), 403, "expired: %s", res->body);

    //  The genuine URL works once
    cr_assert_eq (s_put (up.url, "image/png", data, 500, res), 201, "%s", res->body);
    cr_assert_eq (s_put (up.url, "image/png", data, 500, res), 403, "single use: %s", res->body);
    free (data);
    free (res);
}

Test (evidence, another_users_evidence_is_not_found)
{
    stack_http_t *res = malloc (sizeof *res);
    char alice [API_TOKEN_MAX], bob [API_TOKEN_MAX], path [160];
    api_new_user ("alice-ev", alice, NULL);
    api_new_user ("bob-ev", bob, NULL);
    upload_t up;
    uint8_t *data = s_stored (alice, "image/png", 100, &up);
    upload_t ignored;
    cr_assert_eq (s_upload_url (bob, up.mission, "x.png", "image/png", 100, &ignored, res), 404,
                  "Bob cannot attach to Alice's mission: %s", res->body);
    snprintf (path, sizeof path, "/api/v1/evidence/%s", up.id);
    cr_assert_eq (api_get (path, bob, res), 404);
    cr_assert_eq (api_call ("DELETE", path, bob, NULL, res), 404);
    snprintf (path, sizeof path, "/api/v1/evidence/%s/content", up.id);
    cr_assert_eq (api_get (path, bob, res), 404);
    snprintf (path, sizeof path, "/api/v1/evidence?mission_id=%s", up.mission);
    long status = api_get (path, bob, res);
    cr_assert (status == 404 || (status == 200 && !strstr (res->body, up.id)), "%ld %s", status, res->body);
    //  Still Alice's, intact
    snprintf (path, sizeof path, "/api/v1/evidence/%s", up.id);
    cr_assert_eq (api_get (path, alice, res), 200);
    cr_assert_eq (api_get ("/api/v1/evidence/not-a-uuid", alice, res), 404);
    cr_assert_eq (api_get (path, NULL, res), 401);
    free (data);
    free (res);
}

Test (evidence, deleting_evidence_and_missions_removes_rows_and_files)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], path [160], stored [512], second_stored [512];
    api_new_user ("cleaner", access, NULL);
    upload_t up;
    free (s_stored (access, "image/png", 5000, &up));
    s_stored_path (up.id, stored, sizeof stored);
    cr_assert (s_exists (stored));
    snprintf (path, sizeof path, "/api/v1/evidence/%s", up.id);
    cr_assert_eq (api_call ("DELETE", path, access, NULL, res), 204, "%s", res->body);
    cr_assert_eq (api_get (path, access, res), 404);
    cr_assert_not (s_exists (stored), "the file goes with the row");

    //  A mission's evidence goes with the mission
    upload_t a, b;
    free (s_stored (access, "image/png", 5000, &a));
    cr_assert_eq (s_upload_url (access, a.mission, "b.pdf", "application/pdf", 3000, &b, res), 201);
    uint8_t *pdf = s_file ("application/pdf", 3000);
    cr_assert_eq (s_put (b.url, "application/pdf", pdf, 3000, res), 201, "%s", res->body);
    free (pdf);
    s_stored_path (a.id, stored, sizeof stored);
    s_stored_path (b.id, second_stored, sizeof second_stored);
    cr_assert (s_exists (stored) && s_exists (second_stored));
    snprintf (path, sizeof path, "/api/v1/missions/%s", a.mission);
    cr_assert_eq (api_call ("DELETE", path, access, NULL, res), 204, "%s", res->body);
    snprintf (path, sizeof path, "/api/v1/evidence/%s", a.id);
    cr_assert_eq (api_get (path, access, res), 404);
    snprintf (path, sizeof path, "/api/v1/evidence/%s", b.id);
    cr_assert_eq (api_get (path, access, res), 404);
    cr_assert_not (s_exists (stored), "files of a deleted mission are gone");
    cr_assert_not (s_exists (second_stored));
    char sql [160];
    snprintf (sql, sizeof sql, "SELECT count (*) FROM evidence.evidence WHERE mission_id = '%s'", a.mission);
    cr_assert_eq (stack_db_long (sql), 0, "no rows left");
    free (res);
}

Test (evidence, content_before_the_upload_is_not_found)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], mission [37], path [160];
    api_new_user ("early", access, NULL);
    s_mission (access, mission);
    upload_t up;
    cr_assert_eq (s_upload_url (access, mission, "a.png", "image/png", 100, &up, res), 201);
    snprintf (path, sizeof path, "/api/v1/evidence/%s/content", up.id);
    cr_assert_eq (api_get (path, access, res), 404, "%s", res->body);
    //  Bad upload-url bodies
    cr_assert_eq (s_upload_url (access, "not-a-uuid", "a.png", "image/png", 100, &up, res), 404, "%s", res->body);
    cr_assert_eq (s_upload_url (access, mission, "", "image/png", 100, &up, res), 422, "%s", res->body);
    cr_assert_eq (s_upload_url (access, mission, "../../etc/passwd", "image/png", 100, &up, res), 422, "%s", res->body);
    free (res);
}
