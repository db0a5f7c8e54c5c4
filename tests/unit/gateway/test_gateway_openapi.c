/*  test_gateway_openapi - the route table against docs/openapi.json, both ways

    Paths are compared with their parameters unnamed ({id} and {provider}
    alike become {}), methods upper-case. Run from the repository root.
*/
#include <criterion/criterion.h>
#include <czmq.h>
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "../../../services/gateway/gateway_routes.h"

#define DOCUMENT "docs/openapi.json"
#define REPORT_MAX 8192

extern const char gateway_openapi [];
extern const size_t gateway_openapi_len;

static const char *s_methods [] = { "get", "put", "post", "delete", "patch", "head", "options", "trace", NULL };

static json_t *
s_document (void)
{
    json_error_t error;
    json_t *doc = json_load_file (DOCUMENT, JSON_REJECT_DUPLICATES, &error);
    cr_assert_not_null (doc, "%s: line %d: %s", DOCUMENT, error.line, error.text);
    cr_assert (json_is_object (json_object_get (doc, "paths")), "%s has no paths", DOCUMENT);
    return doc;
}

//  "METHOD /path/{}/x": parameter names left out, method upper-cased
static void
s_key (const char *method, const char *path, char *out, size_t size)
{
    size_t at = 0;
    for (const char *m = method; *m && at + 1 < size; m++)
        out [at++] = (char) toupper ((unsigned char) *m);
    if (at + 1 < size)
        out [at++] = ' ';
    for (const char *p = path; *p && at + 3 < size; p++) {
        out [at++] = *p;
        if (*p == '{') {
            const char *close = strchr (p, '}');
            cr_assert_not_null (close, "unclosed parameter in %s", path);
            out [at++] = '}';
            p = close;
        }
    }
    out [at] = 0;
}

//  Every operation of the document, as keys
static zlistx_t *
s_documented (json_t *doc)
{
    zlistx_t *keys = zlistx_new ();
    zlistx_set_destructor (keys, (czmq_destructor *) zstr_free);
    zlistx_set_duplicator (keys, (czmq_duplicator *) strdup);
    zlistx_set_comparator (keys, (czmq_comparator *) strcmp);
    const char *path;
    json_t *item;
    json_object_foreach (json_object_get (doc, "paths"), path, item)
        for (const char **method = s_methods; *method; method++)
            if (json_object_get (item, *method)) {
                char key [512];
                s_key (*method, path, key, sizeof key);
                zlistx_add_end (keys, key);
            }
    return keys;
}

//  Every route of the gateway's table, as keys
static zlistx_t *
s_served (void)
{
    zlistx_t *keys = zlistx_new ();
    zlistx_set_destructor (keys, (czmq_destructor *) zstr_free);
    zlistx_set_duplicator (keys, (czmq_duplicator *) strdup);
    zlistx_set_comparator (keys, (czmq_comparator *) strcmp);
    for (size_t i = 0; i < gateway_routes_count (); i++) {
        const char *method, *pattern;
        gateway_routes_get (i, &method, &pattern);
        cr_assert (method && pattern, "route %zu", i);
        char key [512];
        s_key (method, pattern, key, sizeof key);
        zlistx_add_end (keys, key);
    }
    return keys;
}

//  The keys of from that to lacks, one per line into report; how many
static size_t
s_missing (zlistx_t *from, zlistx_t *to, char *report, size_t size)
{
    size_t count = 0, at = strlen (report);
    for (const char *key = (const char *) zlistx_first (from); key; key = (const char *) zlistx_next (from))
        if (!zlistx_find (to, (void *) key)) {
            int n = snprintf (report + at, size - at, "  %s\n", key);
            if (n > 0 && (size_t) n < size - at)
                at += (size_t) n;
            count++;
        }
    return count;
}

Test (gateway_openapi, the_table_is_readable)
{
    cr_assert_gt (gateway_routes_count (), 10);
    const char *method, *pattern;
    gateway_routes_get (gateway_routes_count (), &method, &pattern);
    cr_assert_null (method, "past the end");
    cr_assert_null (pattern);
    //  No route twice
    zlistx_t *served = s_served ();
    zlistx_t *seen = zlistx_new ();
    zlistx_set_comparator (seen, (czmq_comparator *) strcmp);
    for (const char *key = (const char *) zlistx_first (served); key; key = (const char *) zlistx_next (served)) {
        cr_assert_null (zlistx_find (seen, (void *) key), "%s is in the table twice", key);
        zlistx_add_end (seen, (void *) key);
    }
    zlistx_destroy (&seen);
    zlistx_destroy (&served);
}

Test (gateway_openapi, every_route_served_is_documented)
{
    json_t *doc = s_document ();
    zlistx_t *documented = s_documented (doc);
    zlistx_t *served = s_served ();
    static char report [REPORT_MAX];     //  static: a failed assert frees nothing
    size_t missing = s_missing (served, documented, report, REPORT_MAX);
    zlistx_destroy (&served);
    zlistx_destroy (&documented);
    json_decref (doc);
    cr_assert_eq (missing, 0, "served by the gateway but not in %s:\n%s", DOCUMENT, report);
}

Test (gateway_openapi, every_documented_operation_is_served)
{
    json_t *doc = s_document ();
    zlistx_t *documented = s_documented (doc);
    zlistx_t *served = s_served ();
    static char report [REPORT_MAX];     //  static: a failed assert frees nothing
    size_t missing = s_missing (documented, served, report, REPORT_MAX);
    zlistx_destroy (&served);
    zlistx_destroy (&documented);
    json_decref (doc);
    cr_assert_eq (missing, 0, "in %s but not served by the gateway:\n%s", DOCUMENT, report);
}

//  A parameter object, through one $ref into #/components when it is one
static json_t *
s_resolve (json_t *doc, json_t *value)
{
    const char *ref = json_string_value (json_object_get (value, "$ref"));
    if (!ref)
        return value;
    cr_assert_eq (strncmp (ref, "#/components/", 13), 0, "only local references: %s", ref);
    json_t *at = doc;
    char *copy = strdup (ref + 2);
    for (char *save = NULL, *part = strtok_r (copy, "/", &save); part; part = strtok_r (NULL, "/", &save))
        at = json_object_get (at, part);
    free (copy);
    cr_assert_not_null (at, "%s points nowhere", ref);
    return at;
}

//  Whether the path item or the operation declares path parameter name
static bool
s_declares (json_t *doc, json_t *item, json_t *operation, const char *name, size_t len)
{
    json_t *lists [] = { json_object_get (item, "parameters"), json_object_get (operation, "parameters") };
    for (size_t i = 0; i < 2; i++) {
        size_t index;
        json_t *parameter;
        json_array_foreach (lists [i], index, parameter) {
            json_t *resolved = s_resolve (doc, parameter);
            const char *in = json_string_value (json_object_get (resolved, "in"));
            const char *named = json_string_value (json_object_get (resolved, "name"));
            if (in && named && streq (in, "path") && strlen (named) == len && strncmp (named, name, len) == 0)
                return json_is_true (json_object_get (resolved, "required"));
        }
    }
    return false;
}

Test (gateway_openapi, the_document_is_complete_where_clients_rely_on_it)
{
    json_t *doc = s_document ();
    const char *version = json_string_value (json_object_get (doc, "openapi"));
    cr_assert (version && strncmp (version, "3.1.", 4) == 0, "OpenAPI 3.1: %s", version? version: "none");
    zlistx_t *ids = zlistx_new ();
    zlistx_set_comparator (ids, (czmq_comparator *) strcmp);
    const char *path;
    json_t *item;
    json_object_foreach (json_object_get (doc, "paths"), path, item)
        for (const char **method = s_methods; *method; method++) {
            json_t *operation = json_object_get (item, *method);
            if (!operation)
                continue;
            const char *id = json_string_value (json_object_get (operation, "operationId"));
            cr_assert_not_null (id, "%s %s has no operationId", *method, path);
            cr_assert_null (zlistx_find (ids, (void *) id), "operationId %s is used twice", id);
            zlistx_add_end (ids, (void *) id);
            cr_assert (json_object_size (json_object_get (operation, "responses")) > 0,
                       "%s %s has no responses", *method, path);
            //  Every {name} of the path is a required path parameter
            for (const char *open = strchr (path, '{'); open; open = strchr (open + 1, '{')) {
                const char *close = strchr (open, '}');
                cr_assert_not_null (close, "%s", path);
                cr_assert (s_declares (doc, item, operation, open + 1, (size_t) (close - open - 1)),
                           "%s %s: {%.*s} is not a required path parameter", *method, path,
                           (int) (close - open - 1), open + 1);
            }
        }
    zlistx_destroy (&ids);
    json_decref (doc);
}

Test (gateway_openapi, the_gateway_serves_this_document)
{
    //  Embedded at build time: a stale build would publish an old contract
    FILE *file = fopen (DOCUMENT, "rb");
    cr_assert_not_null (file, "%s (run from the repository root)", DOCUMENT);
    char *text = malloc (gateway_openapi_len + 2);
    size_t len = fread (text, 1, gateway_openapi_len + 1, file);
    fclose (file);
    cr_assert_eq (len, gateway_openapi_len, "%s and the embedded copy differ in size: rebuild", DOCUMENT);
    cr_assert_eq (memcmp (text, gateway_openapi, len), 0, "%s and the embedded copy differ: rebuild", DOCUMENT);
    free (text);
}
