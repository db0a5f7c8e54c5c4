/*  tmpdir - throwaway directory trees of tests

    Tests make a root with mkdtemp and build under it; at teardown the
    whole tree goes, without following links out of it.
*/
#ifndef TEST_TMPDIR_H_INCLUDED
#define TEST_TMPDIR_H_INCLUDED

//  Remove dir and everything below it, depth first, links not followed.
//  Goes on past an entry it cannot remove; 0, or -1 when anything is left
//  (or dir was not there).
int
    tmpdir_remove (const char *dir);

#endif
