/*  test_auth_email - which addresses are accepted and how they are normalised */
#include <criterion/criterion.h>
#include "../../../services/auth/auth_email.h"

Test (auth_email, normalises_accepted_addresses)
{
    struct { const char *in, *out; } cases [] = {
        { "  Alice.Smith@Example.COM \n", "Alice.Smith@example.com" },
        { "bob+tag@mail.example.org", "bob+tag@mail.example.org" },
        { "x@a-b.io", "x@a-b.io" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char out [255];
        cr_assert_eq (auth_email_normalize (cases [i].in, out, sizeof out), 0, "%s", cases [i].in);
        cr_assert_str_eq (out, cases [i].out);
    }
}

Test (auth_email, refuses_what_is_not_a_plain_address)
{
    const char *bad [] = {
        "", "   ", "plain", "@example.com", "alice@", "alice@localhost", "alice@@example.com",
        "a@b@example.com", ".alice@example.com", "alice.@example.com", "al..ice@example.com",
        "\"quoted\"@example.com", "alice@-example.com", "alice@example-.com", "alice@exa_mple.com",
        "alice@[127.0.0.1]", "ali ce@example.com", "alice@example..com", "alice@.example.com",
        "al\xc3\xa9@example.com", "alice@example.com\r\nBcc: x@y.z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        char out [255] = "x";
        cr_expect_eq (auth_email_normalize (bad [i], out, sizeof out), -1, "accepted '%s'", bad [i]);
        cr_expect_str_empty (out);
    }
    //  Length limits: 64 for the local part, 254 in all
    char long_local [100];
    memset (long_local, 'a', 65);
    strcpy (long_local + 65, "@example.com");
    char out [255];
    cr_assert_eq (auth_email_normalize (long_local, out, sizeof out), -1);
    long_local [64] = 0;
    strcat (long_local, "@example.com");
    cr_assert_eq (auth_email_normalize (long_local + 1, out, sizeof out), 0);
}
