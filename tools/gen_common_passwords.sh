#!/bin/sh
# gen_common_passwords.sh - build the list of common passwords the auth service refuses
#   gen_common_passwords.sh > services/auth/data/common-passwords.txt
#
# Inputs are files shipped by Debian 12 packages (see services/auth/data/README.md):
#   john-data      /usr/share/john/password.lst
#   python3-zxcvbn /usr/lib/python3/dist-packages/zxcvbn/frequency_lists.py ("passwords")
# JOHN_LIST and ZXCVBN_LISTS override the paths. The output is deterministic for
# given inputs: lower-case, 12..128 bytes a line, unique, sorted in byte order.
# Shorter entries are dropped because the policy refuses anything under 12
# characters before it looks at the list.
set -eu
export LC_ALL=C

john=${JOHN_LIST:-/usr/share/john/password.lst}
zxcvbn=${ZXCVBN_LISTS:-/usr/lib/python3/dist-packages/zxcvbn/frequency_lists.py}
for f in "$john" "$zxcvbn"; do
    [ -r "$f" ] || { echo "gen_common_passwords.sh: cannot read $f (apt-get install john-data python3-zxcvbn)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Leaked passwords, most frequent first: zxcvbn's list (Xato corpus), then john's.
# Lines starting "#!comment" are john's header, not entries.
sed -n 's/^    "passwords": "\(.*\)"\.split(","),\{0,1\}$/\1/p' "$zxcvbn" \
    | tr ',' '\n' | sed "s/\\\\'/'/g" > "$tmp/zxcvbn"
[ "$(wc -l < "$tmp/zxcvbn")" -ge 10000 ] \
    || { echo "gen_common_passwords.sh: unexpected format of $zxcvbn" >&2; exit 1; }
grep -v '^#!comment' "$john" | tr -d '\r' > "$tmp/john"
cat "$tmp/zxcvbn" "$tmp/john" | tr 'A-Z' 'a-z' | grep -v '^$' > "$tmp/leaked"

# Base words for the derived patterns: purely alphabetic leaked passwords of at
# least 4 letters, in frequency order, first occurrence only
awk 'length ($0) >= 4 && $0 ~ /^[a-z]+$/ && !seen [$0]++' "$tmp/leaked" > "$tmp/bases"

awk -v bases="$tmp/bases" '
function emit (s) { if (length (s) >= 12 && length (s) <= 128) print s }
function repeat_to (s, min,   out) { out = s; while (length (out) < min) out = out s; return out }
BEGIN {
    n = 0
    while ((getline w < bases) > 0) base [++n] = w

    #   The leaked passwords themselves are added after this block

    #   Base words with the suffixes people add to reach a length rule
    split ("1 12 123 1234 12345 123456 1234567 12345678 123456789 1234567890 " \
           "! 1! 123! 1234! 12345! 123456! 0 00 01 007 11 69 99 321 4321 654321 " \
           "111 1111 2000 @123 @1234 #1 .", suffix, " ")
    for (i = 1; i <= n && i <= 3000; i++)
        for (j in suffix)
            emit(base [i] suffix [j])

    #   Base words with a year, plain and with the usual decorations
    for (i = 1; i <= n && i <= 600; i++)
        for (y = 1950; y <= 2030; y++) {
            emit(base [i] y)
            if (i <= 150) {
                emit(base [i] y "!")
                emit(base [i] "@" y)
            }
        }

    #   Doubled words and a few common prefixes
    for (i = 1; i <= n && i <= 3000; i++) {
        emit(base [i] base [i])
        emit(base [i] base [i] "1")
        emit(base [i] base [i] "123")
    }
    split ("ilove iloveyou my the love", prefix, " ")
    for (i = 1; i <= n && i <= 1500; i++)
        for (j in prefix)
            emit(prefix [j] base [i])

    #   Digit runs: ascending and descending (wrapping at 9/0), one digit
    #   repeated, short groups repeated, a run followed by its mirror
    for (d = 0; d <= 9; d++)
        for (len = 12; len <= 30; len++) {
            up = ""; down = ""; same = ""
            for (k = 0; k < len; k++) {
                up = up ((d + k) % 10)
                down = down ((d - k + 100) % 10)
                same = same d
            }
            print up; print down; print same
        }
    split ("12 123 1234 12345 123456 1234567 321 4321 54321 654321 " \
           "11 112 1122 121 1212 123123 159 159753 147 147258 147258369 " \
           "2580 13 69 007 01 10 00 0102 0103 789 987 456 741852963 " \
           "789456 789456123 112233 11223344 102030 010203 2468 1357 " \
           "1111 2222 3333 4444 5555 6666 7777 8888 9999 0000 420 666 777 " \
           "101 1001 1010 2000 2001 1984 1999 2020", group, " ")
    for (j in group) {
        s = repeat_to(group [j], 12)
        emit(s)
        emit(s group [j])
        emit(s group [j] group [j])
    }
    for (len = 6; len <= 10; len++) {
        a = substr ("1234567890", 1, len)
        r = ""
        for (k = len; k >= 1; k--) r = r substr (a, k, 1)
        emit(a r)
        emit(r a)
    }

    #   Keyboard walks: prefixes of row, column and zig-zag walks, plus
    #   short row segments repeated
    split ("qwertyuiopasdfghjklzxcvbnm 1234567890qwertyuiopasdfghjklzxcvbnm " \
           "qwertyuiop1234567890 1234567890qwertyuiop asdfghjklqwertyuiop " \
           "zxcvbnmasdfghjklqwertyuiop mnbvcxzlkjhgfdsapoiuytrewq " \
           "poiuytrewqlkjhgfdsamnbvcxz 0987654321poiuytrewq " \
           "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/ zaq12wsxcde34rfvbgt5 " \
           "qazwsxedcrfvtgbyhnujmikolp zaq1xsw2cde3vfr4bgt5nhy6mju7 " \
           "1q2w3e4r5t6y7u8i9o0p q1w2e3r4t5y6u7i8o9p0 a1s2d3f4g5h6j7k8l9 " \
           "1a2s3d4f5g6h7j8k9l z1x2c3v4b5n6m7 qweasdzxcrtyfghvbnuiojklm " \
           "qweasdzxc123456789 123qweasdzxc456rtyfghvbn zxcasdqwe123456 " \
           "!qaz@wsx#edc$rfv%tgb^yhn !qaz2wsx#edc4rfv 1qaz!qaz2wsx@wsx " \
           "qwe123asd456zxc789 123qwe456asd789zxc !@#$%^&*()_+qwertyuiop " \
           "!@#$%^&*()qwertyuiop 1234qwerasdfzxcv qwerasdfzxcvtyuighjkbnm " \
           "qazxswedcvfrtgbnhyujm,kiol.;p/ 1qazxsw23edcvfr45tgbnhy6 " \
           "abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxyz1234567890 " \
           "abcd1234efgh5678 abc123def456ghi789 a1b2c3d4e5f6g7h8i9j0 " \
           "zyxwvutsrqponmlkjihgfedcba", walk, " ")
    for (j in walk)
        for (len = 12; len <= length (walk [j]); len++)
            emit(substr (walk [j], 1, len))
    split ("qwertyuiop asdfghjkl zxcvbnm 1234567890 !@#$%^&*() qazwsx " \
           "qweasdzxc 1qaz2wsx zaq1 1q2w3e 1q2w3e4r qwe asd zxc abc", row, " ")
    for (j in row)
        for (len = 3; len <= length (row [j]); len++) {
            s = substr (row [j], 1, len)
            emit(repeat_to(s, 12))
            emit(s s)
            emit(s s s)
            for (k = 1; k <= 20 && k <= n; k++) {
                emit(s base [k])
                emit(base [k] s)
            }
        }
}
' < /dev/null > "$tmp/derived"

cat "$tmp/leaked" "$tmp/derived" \
    | awk 'length ($0) >= 12 && length ($0) <= 128' \
    | sort -u
