/*  gateway_routes - the route table: method + path pattern -> handler */
#ifndef GATEWAY_ROUTES_H_INCLUDED
#define GATEWAY_ROUTES_H_INCLUDED

#include "gateway_http.h"

typedef void (gateway_handler_fn) (gateway_req_t *req);

//  ----------------------------------------------------------------------
//  Route req to its handler; answers 404 / 405 itself when nothing matches
void
    gateway_routes_dispatch (gateway_req_t *req);

//  ----------------------------------------------------------------------
//  The route table, for the test that holds it against docs/openapi.json:
//  method and pattern of route index (both NULL past the end)
size_t
    gateway_routes_count (void);
void
    gateway_routes_get (size_t index, const char **method, const char **pattern);

#endif
