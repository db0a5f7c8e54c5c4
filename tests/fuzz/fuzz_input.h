/*  fuzz_input - turning a fuzzer's bytes into the inputs a harness needs

    Header only: each harness is its own program and takes what it uses.
*/
#ifndef FUZZ_INPUT_H_INCLUDED
#define FUZZ_INPUT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

//  A malloc'd, NUL-terminated copy of the bytes (the caller frees); NUL
//  bytes inside stay and end the C string early, as they would in a header
static inline char *
fuzz_input_text (const uint8_t *data, size_t size)
{
    char *text = (char *) malloc (size + 1);
    if (!text)
        abort ();
    memcpy (text, data, size);
    text [size] = '\0';
    return text;
}

//  Cuts text in place at each newline into at most max parts; parts
//  not given are "". Returns how many the input held.
static inline size_t
fuzz_input_split (char *text, char **parts, size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i < max; i++)
        parts [i] = (char *) "";
    while (text && count < max) {
        parts [count++] = text;
        char *newline = strchr (text, '\n');
        if (newline)
            *newline++ = '\0';
        text = newline;
    }
    return count;
}

#endif
