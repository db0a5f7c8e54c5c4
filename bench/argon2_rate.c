/*  argon2_rate - the bare password-check rate of this machine

    Runs auth_password_verify, the very function sign-in calls, with the
    service's own argon2id parameters, on THREADS threads for SECONDS, and
    prints one line: threads, checks, seconds, checks per second. It is the
    ceiling sign-in throughput is measured against: sign-in adds only a
    database round trip, a session row and a token to every hash.

        argon2_rate [THREADS [SECONDS]]     (2 threads, 5 s by default)
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <czmq.h>
#include "../services/auth/auth_password.h"

#define PASSWORD "correct horse battery staple"

static char s_phc [AUTH_PASSWORD_PHC_SIZE];
static atomic_long s_checks;
static int64_t s_until;                 //  zclock_mono () at which threads stop

static void *
s_checker (void *unused)
{
    (void) unused;
    while (zclock_mono () < s_until) {
        if (auth_password_verify (s_phc, PASSWORD) != 0) {
            fprintf (stderr, "argon2_rate: a check failed\n");
            exit (1);
        }
        atomic_fetch_add (&s_checks, 1);
    }
    return NULL;
}

int
main (int argc, char *argv [])
{
    int threads = argc > 1? atoi (argv [1]): 2;
    int seconds = argc > 2? atoi (argv [2]): 5;
    if (threads < 1 || threads > 64 || seconds < 1 || seconds > 600) {
        fprintf (stderr, "usage: argon2_rate [THREADS 1..64 [SECONDS 1..600]]\n");
        return 2;
    }
    if (auth_password_hash (PASSWORD, s_phc, sizeof s_phc) != 0) {
        fprintf (stderr, "argon2_rate: cannot hash\n");
        return 1;
    }
    pthread_t ids [64];
    int64_t start = zclock_mono ();
    s_until = start + seconds * 1000;
    for (int i = 0; i < threads; i++)
        if (pthread_create (&ids [i], NULL, s_checker, NULL) != 0)
            return 1;
    for (int i = 0; i < threads; i++)
        pthread_join (ids [i], NULL);
    double took = (double) (zclock_mono () - start) / 1000.0;
    long checks = atomic_load (&s_checks);
    printf ("scenario=argon2_rate threads=%d checks=%ld seconds=%.2f rps=%.1f m_kib=%d t=%d p=%d\n",
            threads, checks, took, (double) checks / took,
            AUTH_PASSWORD_ARGON2_M_KIB, AUTH_PASSWORD_ARGON2_T, AUTH_PASSWORD_ARGON2_P);
    return 0;
}
