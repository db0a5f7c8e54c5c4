/*  gateway_api_evidence - the /api/v1/evidence routes, uploads and downloads included */
#ifndef GATEWAY_API_EVIDENCE_H_INCLUDED
#define GATEWAY_API_EVIDENCE_H_INCLUDED

#include "gateway_http.h"

#define GATEWAY_API_EVIDENCE_SIG_SIZE   257     //  the longest sig an upload URL may carry, NUL included

//  ----------------------------------------------------------------------
//  Read an upload URL's query string (still percent-encoded) for its
//  expires and sig (pure, no I/O); sig needs GATEWAY_API_EVIDENCE_SIG_SIZE
//  bytes. Returns 0, or -1 when either is missing, repeated or malformed.
//  The evidence service checks the signature itself.
int
    gateway_api_evidence_url_query (const char *query, size_t len, int64_t *expires,
                                    char sig [GATEWAY_API_EVIDENCE_SIG_SIZE]);

void gateway_api_evidence_upload_url (gateway_req_t *req);
void gateway_api_evidence_upload (gateway_req_t *req);
void gateway_api_evidence_list (gateway_req_t *req);
void gateway_api_evidence_get (gateway_req_t *req);
void gateway_api_evidence_content (gateway_req_t *req);
void gateway_api_evidence_delete (gateway_req_t *req);

#endif
