/*  missions_erase - missions.erase_user, for privacy's account deletion

    Deletes every mission of the envelope's user. Only the privacy service
    may ask (any other peer gets CM_FORBIDDEN); asking again is harmless.
*/
#ifndef MISSIONS_ERASE_H_INCLUDED
#define MISSIONS_ERASE_H_INCLUDED

#include "missions_handlers.h"

cm_handler_fn missions_erase_user;

#endif
