/*  gateway_api_evidence - the /api/v1/evidence routes, uploads and downloads included */
#ifndef GATEWAY_API_EVIDENCE_H_INCLUDED
#define GATEWAY_API_EVIDENCE_H_INCLUDED

#include "gateway_http.h"

void gateway_api_evidence_upload_url (gateway_req_t *req);
void gateway_api_evidence_upload (gateway_req_t *req);
void gateway_api_evidence_list (gateway_req_t *req);
void gateway_api_evidence_get (gateway_req_t *req);
void gateway_api_evidence_content (gateway_req_t *req);
void gateway_api_evidence_delete (gateway_req_t *req);

#endif
