/*  evidence_erase - what privacy asks of the evidence service

    evidence.list_user pages through all of a user's evidence for the
    export (the content then comes through evidence.content as for any
    download); evidence.erase_user removes the user's files, rows and data
    key for a deletion. Both act for the envelope's user and answer only
    the privacy service: any other peer gets CM_FORBIDDEN.
*/
#ifndef EVIDENCE_ERASE_H_INCLUDED
#define EVIDENCE_ERASE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "evidence_handlers.h"

#define EVIDENCE_ERASE_PAGE         100     //  items per page of evidence.list_user

cm_handler_fn evidence_erase_user;
cm_handler_fn evidence_erase_list_user;

#endif
