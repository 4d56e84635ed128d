/* Transcoder: resultset rows straight to JSON, NDJSON, msgpack or psdb row bytes.
 *
 * The C twin of mywire/_pytranscode.py; mywire/_tcspec.py is the specification (value
 * rules per kind and format, row shapes, error statuses).  Rows are read exactly as
 * mw_rows.c reads them (same checks, same statuses and offsets); each value is then
 * written in the output format straight from the wire bytes: text-row numbers are
 * checked and copied or re-laid out, never turned into Python objects.
 *
 * A row is written whole or not at all: when out fills up the row is rolled back and
 * the call returns MW_ROWS_FULL (the caller grows out and calls again from first +
 * res.rows); when a finished row would end beyond budget bytes it is rolled back and
 * the call returns MW_ROWS_BUDGET.  Room checks reserve each value's worst case, so
 * MW_ROWS_FULL may come before out is really full; MW_ROWS_BUDGET is exact.
 * No state, no allocation.
 */
#include <math.h>
#include <string.h>

#include "mywire_api.h"
#include "mw_dtoa.h"
#include "mw_msgpack.h"
#include "mw_reader.h"
#include "mw_values.h"

#define MAX_JSON_DEPTH 512 /* _tcspec.MAX_JSON_DEPTH */

#if defined(__GNUC__)
#define MW_FORCE_INLINE inline __attribute__((always_inline))
#else
#define MW_FORCE_INLINE inline
#endif

typedef struct {
    uint8_t *out;
    size_t cap;
    size_t o;
    int fmt;
    mw_rows_result *res;
} tc_t;

/* One value as read from a row: NULL, wire bytes (text rows and length-encoded binary
 * values), or a binary fixed-width value. */
enum { V_NULL, V_TEXT, V_INT, V_DOUBLE, V_FLOAT, V_TEMPORAL };

typedef struct {
    int type;
    const uint8_t *p; /* V_TEXT: content; V_TEMPORAL: the formatted text */
    size_t n;
    size_t off;       /* offset in buf of the content (V_TEXT) or the value */
    uint64_t mag;     /* V_INT magnitude */
    int neg;          /* V_INT sign */
    double d;
    float f;
    char t[64];
} val_t;

#define ROOM(c, n)                                \
    do {                                          \
        if ((c)->cap - (c)->o < (size_t)(n))      \
            return MW_ROWS_FULL;                  \
    } while (0)

static int fail(tc_t *c, int status, int32_t column, size_t offset, uint64_t a, uint64_t b)
{
    c->res->status = status;
    c->res->column = column;
    c->res->offset = offset;
    c->res->a = a;
    c->res->b = b;
    return status;
}

/* ------------------------------------------------------------------ tables */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* B64_PAIRS[2x], B64_PAIRS[2x + 1]: the two characters of the 12 bits x, so three input
 * bytes take two lookups instead of four. */
#define B64C(x)                                                                            \
    ((x) < 26   ? 'A' + (x)                                                                \
     : (x) < 52 ? 'a' + (x)-26                                                             \
     : (x) < 62 ? '0' + (x)-52                                                             \
     : (x) == 62 ? '+' : '/')
#define B64P1(x) B64C((x) >> 6), B64C((x)&63)
#define B64P4(x) B64P1(x), B64P1((x) + 1), B64P1((x) + 2), B64P1((x) + 3)
#define B64P16(x) B64P4(x), B64P4((x) + 4), B64P4((x) + 8), B64P4((x) + 12)
#define B64P64(x) B64P16(x), B64P16((x) + 16), B64P16((x) + 32), B64P16((x) + 48)
#define B64P256(x) B64P64(x), B64P64((x) + 64), B64P64((x) + 128), B64P64((x) + 192)
#define B64P1024(x) B64P256(x), B64P256((x) + 256), B64P256((x) + 512), B64P256((x) + 768)
static const char B64_PAIRS[8192] = {B64P1024(0), B64P1024(1024), B64P1024(2048), B64P1024(3072)};

/* MySQL latin1 is cp1252 with its five holes (0x81 0x8D 0x8F 0x90 0x9D) as C1 controls. */
static const uint16_t LATIN1_HIGH[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

/* JSON string bytes: 0 copy, 1 escape, 2 non-ASCII. */
static const uint8_t JSON_CLASS[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

/* ------------------------------------------------------------------ UTF-8 */

/* Length of the valid UTF-8 sequence at p[i] (lead byte >= 0x80), or 0 if invalid:
 * no overlongs, no surrogates, nothing above U+10FFFF (what Python's decoder accepts). */
static size_t utf8_seq(const uint8_t *p, size_t n, size_t i)
{
    uint8_t c = p[i];
    size_t left = n - i;
    if (c >= 0xC2 && c <= 0xDF)
        return left >= 2 && (p[i + 1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3)
            return 0;
        uint8_t c1 = p[i + 1];
        if (c == 0xE0 ? (c1 < 0xA0 || c1 > 0xBF)
                      : c == 0xED ? (c1 < 0x80 || c1 > 0x9F) : (c1 & 0xC0) != 0x80)
            return 0;
        return (p[i + 2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4)
            return 0;
        uint8_t c1 = p[i + 1];
        if (c == 0xF0 ? (c1 < 0x90 || c1 > 0xBF)
                      : c == 0xF4 ? (c1 < 0x80 || c1 > 0x8F) : (c1 & 0xC0) != 0x80)
            return 0;
        return (p[i + 2] & 0xC0) == 0x80 && (p[i + 3] & 0xC0) == 0x80 ? 4 : 0;
    }
    return 0;
}

static int ascii8(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return (w & UINT64_C(0x8080808080808080)) == 0;
}

/* The high bit of every byte of the eight at p that a JSON string does not copy as it
 * is: '"', '\\', a control or a byte of 0x80 and up.  Borrows can only mark bytes above
 * an already marked one, so the lowest mark is exact. */
static inline uint64_t special8(const uint8_t *p)
{
    const uint64_t lo = UINT64_C(0x0101010101010101), hi = UINT64_C(0x8080808080808080);
    uint64_t w;
    memcpy(&w, p, 8);
    uint64_t q = w ^ (lo * '"'), b = w ^ (lo * '\\');
    return (((w - lo * 0x20) & ~w) | ((q - lo) & ~q) | ((b - lo) & ~b) | w) & hi;
}

/* How many bytes before the lowest mark of special8 (m != 0) need no look.  Without a
 * little-endian load order and ctz the answer 0 is still right: the caller then looks
 * at each byte itself. */
static inline size_t unmarked(uint64_t m)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (size_t)__builtin_ctzll(m) >> 3;
#else
    (void)m;
    return 0;
#endif
}

/* The first index >= i of p[0..n) that is not a plain JSON string byte (special8), or a
 * later one when fewer than eight bytes are left; the caller looks at the rest. */
static inline size_t skip_plain(const uint8_t *p, size_t n, size_t i)
{
    while (n - i >= 8) {
        uint64_t m = special8(p + i);
        if (m)
            return i + unmarked(m);
        i += 8;
    }
    return i;
}

static int utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8 && ascii8(p + i)) {
            i += 8;
            continue;
        }
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_seq(p, n, i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

/* ------------------------------------------------------------------ JSON text check */

/* JSON whitespace: tab, LF, CR, space. */
static const uint8_t JSON_WS[256] = {['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [' '] = 1};

static inline size_t skip_ws(const uint8_t *p, size_t n, size_t i)
{
    while (i < n && JSON_WS[p[i]])
        i++;
    return i;
}

static int is_hex(uint8_t ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* A JSON string starting at p[i] == '"', its UTF-8 checked too; returns the index after
 * it, or 0. */
static MW_FORCE_INLINE size_t json_string(const uint8_t *p, size_t n, size_t i)
{
    i++;
    for (;;) {
        i = skip_plain(p, n, i);
        if (i >= n)
            return 0;
        uint8_t ch = p[i];
        if (ch == '"')
            return i + 1;
        if (ch >= 0x80) {
            size_t k = utf8_seq(p, n, i);
            if (!k)
                return 0;
            i += k;
            continue;
        }
        if (ch < 0x20)
            return 0;
        if (ch == '\\') {
            if (i + 1 >= n)
                return 0;
            uint8_t e = p[i + 1];
            if (e == 'u') {
                if (n - i < 6 || !is_hex(p[i + 2]) || !is_hex(p[i + 3]) || !is_hex(p[i + 4]) ||
                    !is_hex(p[i + 5]))
                    return 0;
                i += 6;
                continue;
            }
            if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' &&
                e != 'r' && e != 't')
                return 0;
            i += 2;
            continue;
        }
        i++;
    }
}

/* count_digits for the short runs of JSON numbers, where the word-wise scan costs more
 * than it saves. */
static inline size_t short_digits(const uint8_t *p, size_t n, size_t i)
{
    size_t k = i;
    while (k < n && is_digit(p[k]))
        k++;
    return k - i;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? at p[i]; returns the index after, or 0. */
static size_t json_number(const uint8_t *p, size_t n, size_t i)
{
    if (i < n && p[i] == '-')
        i++;
    if (i >= n || !is_digit(p[i]))
        return 0;
    if (p[i] == '0')
        i++;
    else
        i += short_digits(p, n, i);
    if (i < n && p[i] == '.') {
        size_t d = short_digits(p, n, i + 1);
        if (!d)
            return 0;
        i += 1 + d;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        size_t d = short_digits(p, n, i);
        if (!d)
            return 0;
        i += d;
    }
    return i;
}

static size_t json_literal(const uint8_t *p, size_t n, size_t i, const char *word, size_t len)
{
    return n - i >= len && memcmp(p + i, word, len) == 0 ? i + len : 0;
}

/* RFC 8259 JSON text, nesting at most MAX_JSON_DEPTH, and valid UTF-8: outside strings
 * the grammar admits ASCII only, and json_string checks the UTF-8 inside, so one pass
 * does both; on failure the caller tells the two apart with utf8_valid. */
static int json_valid(const uint8_t *p, size_t n)
{
    uint8_t is_obj[MAX_JSON_DEPTH / 8] = {0};
    int depth = 0;
    int obj = 0; /* the innermost open container is an object (its is_obj bit, cached) */
    uint8_t close = 0;
    size_t i = skip_ws(p, n, 0);
value:
    if (i >= n)
        return 0;
    switch (p[i]) {
    case '{':
    case '[':
        if (depth == MAX_JSON_DEPTH)
            return 0;
        obj = p[i] == '{';
        if (obj)
            is_obj[depth >> 3] = (uint8_t)(is_obj[depth >> 3] | (1u << (depth & 7)));
        else
            is_obj[depth >> 3] = (uint8_t)(is_obj[depth >> 3] & ~(1u << (depth & 7)));
        depth++;
        close = obj ? '}' : ']';
        i = skip_ws(p, n, i + 1);
        if (i < n && p[i] == close) {
            i++;
            goto pop;
        }
        if (obj)
            goto key;
        goto value;
    case '"':
        i = json_string(p, n, i);
        break;
    case 't':
        i = json_literal(p, n, i, "true", 4);
        break;
    case 'f':
        i = json_literal(p, n, i, "false", 5);
        break;
    case 'n':
        i = json_literal(p, n, i, "null", 4);
        break;
    default:
        i = json_number(p, n, i);
        break;
    }
    if (!i)
        return 0;
after:
    i = skip_ws(p, n, i);
    if (depth == 0)
        return i == n;
    if (i >= n)
        return 0;
    if (p[i] == ',') {
        i = skip_ws(p, n, i + 1);
        if (obj)
            goto key;
        goto value;
    }
    if (p[i] != close)
        return 0;
    i++;
pop:
    depth--;
    if (depth) {
        obj = (is_obj[(depth - 1) >> 3] >> ((depth - 1) & 7)) & 1;
        close = obj ? '}' : ']';
    }
    goto after;
key:
    if (i >= n || p[i] != '"')
        return 0;
    i = json_string(p, n, i);
    if (!i)
        return 0;
    i = skip_ws(p, n, i);
    if (i >= n || p[i] != ':')
        return 0;
    i = skip_ws(p, n, i + 1);
    goto value;
}

/* ------------------------------------------------------------------ numbers */

static inline int all_digits(const uint8_t *p, size_t n)
{
    size_t i = 0;
    for (; n - i >= 8; i += 8)
        if (!mw_digits8(p + i))
            return 0;
    for (; i < n; i++)
        if (!is_digit(p[i]))
            return 0;
    return 1;
}

/* Text integer: grammar and range as the row decoder checks them (a non-digit anywhere
 * is MW_E_ROW_VALUE before any range error). */
static int text_int(tc_t *c, int kind, const uint8_t *p, size_t n, int32_t col, size_t off,
                    int *neg_out, uint64_t *mag_out)
{
    size_t i = n > 0 && p[0] == '-' ? 1 : 0;
    int neg = (int)i;
    if (i == n || !all_digits(p + i, n - i))
        return fail(c, MW_E_ROW_VALUE, col, off, n, 0);
    uint64_t mag = 0;
    /* nineteen digits stay below 10^19 < 2^64: only the ones after need the check */
    size_t safe = n - i > 19 ? i + 19 : n, k = i;
#if MW_SWAR_DIGITS
    for (; safe - k >= 8; k += 8)
        mag = mag * 100000000u + mw_parse8(p + k);
#endif
    for (; k < safe; k++)
        mag = mag * 10 + (uint64_t)(p[k] - '0');
    for (; k < n; k++) {
        uint64_t d = (uint64_t)(p[k] - '0');
        if (mag > (UINT64_MAX - d) / 10)
            return fail(c, MW_E_ROW_RANGE, col, off, n, 0);
        mag = mag * 10 + d;
    }
    const uint64_t limit = UINT64_C(1) << 63;
    if (kind == MW_K_UINT ? (neg && mag != 0) : (neg ? mag > limit : mag >= limit))
        return fail(c, MW_E_ROW_RANGE, col, off, n, 0);
    *neg_out = neg && mag != 0;
    *mag_out = mag;
    return MW_OK;
}

/* Text that is already a canonical integer (-?[1-9][0-9]* or 0) within kind's range: 1;
 * else 0 (negatives for UNSIGNED included), and the checked path decides.  Canonical
 * text is written as it is. */
static inline int canonical_int(int kind, const uint8_t *p, size_t n)
{
    size_t i = 0;
    if (n && p[0] == '-') {
        if (kind == MW_K_UINT)
            return 0;
        i = 1;
    }
    size_t digits = n - i;
    if (digits == 0 || digits > 20 || (p[i] == '0' && (digits > 1 || i)) ||
        !all_digits(p + i, digits))
        return 0;
    if (digits <= 18)
        return 1;
    /* equal-length digit strings order as their values: compare with the bound */
    if (kind == MW_K_UINT)
        return digits == 19 || memcmp(p, "18446744073709551615", 20) <= 0;
    return digits == 19 && memcmp(p + i, i ? "9223372036854775808" : "9223372036854775807",
                                  19) <= 0;
}

/* Canonical decimal digits of an integer at t; returns the count. */
static size_t int_text(char *t, int neg, uint64_t mag)
{
    size_t k = 0;
    if (neg)
        t[k++] = '-';
    return k + put_digits(t + k, mag, 1);
}

/* The float text rule of _tcspec ("re-laid out"): writes at t (MW_DTOA_MAX bytes) and
 * returns the length, or 0 with *status set. */
static size_t float_text(const uint8_t *p, size_t n, uint8_t *t, int *status)
{
    mw_decimal dec;
    if (!mw_scan_decimal(p, n, &dec)) {
        *status = MW_E_ROW_VALUE;
        return 0;
    }
    *status = MW_OK;
    if (dec.m == 0) {
        if (dec.neg) {
            memcpy(t, "-0.0", 4);
            return 4;
        }
        memcpy(t, "0.0", 3);
        return 3;
    }
    if (dec.exact) {
        /* at most 15 significant digits (trailing zeros are not) read back as themselves:
         * they are kept and only laid out */
        uint64_t f = dec.m;
        int64_t e = dec.e10;
        const uint64_t p15 = UINT64_C(1000000000000000);
        if (f >= p15) {
            while (f % 10 == 0) {
                f /= 10;
                e++;
            }
        }
        int64_t first = dec.e10 + dec.nd - 1;
        if (f < p15 && first >= -307 && first <= 307)
            return mw_dtoa_layout(t, dec.neg, f, (int)e);
    }
    double v = mw_decimal_value(p, n, &dec);
    if (!isfinite(v)) {
        *status = MW_E_ROW_NONFINITE;
        return 0;
    }
    return mw_dtoa_double(t, v);
}

/* ------------------------------------------------------------------ writers */

static void w_byte(tc_t *c, uint8_t b)
{
    c->out[c->o++] = b;
}

/* memcpy of n bytes, with short copies as two overlapping fixed-size ones: most values
 * are a few bytes long, and a library call costs more than the copy. */
static inline void copy_bytes(uint8_t *o, const uint8_t *p, size_t n)
{
    if (n >= 8 && n <= 16) {
        memcpy(o, p, 8);
        memcpy(o + n - 8, p + n - 8, 8);
    } else if (n >= 4 && n < 8) {
        memcpy(o, p, 4);
        memcpy(o + n - 4, p + n - 4, 4);
    } else if (n > 16) {
        memcpy(o, p, n);
    } else {
        for (size_t i = 0; i < n; i++)
            o[i] = p[i];
    }
}

static void w_bytes(tc_t *c, const void *p, size_t n)
{
    copy_bytes(c->out + c->o, (const uint8_t *)p, n);
    c->o += n;
}

/* The escape of ASCII byte ch (a quote, a backslash or a control) as json.dumps writes
 * it, at o; returns its length (2 or 6). */
static size_t json_escape(uint8_t *o, uint8_t ch)
{
    static const char HEX[] = "0123456789abcdef";
    o[0] = '\\';
    switch (ch) {
    case '"': o[1] = '"'; return 2;
    case '\\': o[1] = '\\'; return 2;
    case '\b': o[1] = 'b'; return 2;
    case '\f': o[1] = 'f'; return 2;
    case '\n': o[1] = 'n'; return 2;
    case '\r': o[1] = 'r'; return 2;
    case '\t': o[1] = 't'; return 2;
    default:
        o[1] = 'u';
        o[2] = '0';
        o[3] = '0';
        o[4] = (uint8_t)HEX[ch >> 4];
        o[5] = (uint8_t)HEX[ch & 15];
        return 6;
    }
}

/* JSON string body of UTF-8 text (checked here); worst case 6n bytes. */
static int json_utf8(tc_t *c, const uint8_t *p, size_t n, int32_t col, size_t off)
{
    ROOM(c, 6 * n + 2);
    uint8_t *o = c->out + c->o;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        size_t run = skip_plain(p, n, i);
        while (run < n && JSON_CLASS[p[run]] == 0)
            run++;
        if (run > i) {
            copy_bytes(o, p + i, run - i);
            o += run - i;
            i = run;
        }
        if (i >= n)
            break;
        uint8_t ch = p[i];
        if (ch >= 0x80) {
            size_t k = utf8_seq(p, n, i);
            if (!k)
                return fail(c, MW_E_ROW_UTF8, col, off, n, 0);
            memcpy(o, p + i, k);
            o += k;
            i += k;
            continue;
        }
        o += json_escape(o, ch);
        i++;
    }
    *o++ = '"';
    c->o = (size_t)(o - c->out);
    return MW_OK;
}

/* UTF-8 of MySQL latin1 byte b at o; returns the bytes written (1..3). */
static size_t latin1_utf8(uint8_t *o, uint8_t b)
{
    uint32_t cp = b < 0x80 ? b : b < 0xA0 ? LATIN1_HIGH[b - 0x80] : b;
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    o[0] = (uint8_t)(0xE0 | (cp >> 12));
    o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (uint8_t)(0x80 | (cp & 0x3F));
    return 3;
}

static size_t latin1_utf8_len(const uint8_t *p, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = p[i];
        len += b < 0x80 ? 1 : (b >= 0xA0 || LATIN1_HIGH[b - 0x80] < 0x800) ? 2 : 3;
    }
    return len;
}

/* latin1 text as a JSON string; worst case 6n + 2. */
static int json_latin1(tc_t *c, const uint8_t *p, size_t n)
{
    ROOM(c, 6 * n + 2);
    w_byte(c, '"');
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = p[i];
        if (JSON_CLASS[ch] == 0) {
            w_byte(c, ch);
        } else if (ch >= 0x80) {
            c->o += latin1_utf8(c->out + c->o, ch);
        } else {
            c->o += json_escape(c->out + c->o, ch);
        }
    }
    w_byte(c, '"');
    return MW_OK;
}

static size_t b64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/* Standard padded base64 of p[0..n) at o. */
static size_t b64_write(uint8_t *o, const uint8_t *p, size_t n)
{
    size_t k = 0, i = 0;
    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        memcpy(o + k, B64_PAIRS + 2 * (v >> 12), 2);
        memcpy(o + k + 2, B64_PAIRS + 2 * (v & 0xFFF), 2);
        k += 4;
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        o[k++] = (uint8_t)B64[v >> 18];
        o[k++] = (uint8_t)B64[(v >> 12) & 63];
        o[k++] = '=';
        o[k++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        o[k++] = (uint8_t)B64[v >> 18];
        o[k++] = (uint8_t)B64[(v >> 12) & 63];
        o[k++] = (uint8_t)B64[(v >> 6) & 63];
        o[k++] = '=';
    }
    return k;
}

/* msgpack str/bin of p[0..n). */
static int mp_bytes(tc_t *c, int as_str, const uint8_t *p, size_t n, int32_t col, size_t off)
{
    if ((uint64_t)n > 0xFFFFFFFFu)
        return fail(c, MW_E_ARGUMENT, col, off, n, 0);
    ROOM(c, MW_MP_MAX_HEADER + n);
    c->o += as_str ? mw_mp_str_header(c->out + c->o, n) : mw_mp_bin_header(c->out + c->o, n);
    w_bytes(c, p, n);
    return MW_OK;
}

/* ------------------------------------------------------------------ psdb text forms */

/* Streaming base64 over the text forms of one row's values. */
typedef struct {
    uint8_t carry[3];
    size_t ncarry;
} b64s_t;

static void b64s_feed(tc_t *c, b64s_t *s, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (s->ncarry && s->ncarry < 3 && i < n)
        s->carry[s->ncarry++] = p[i++];
    if (s->ncarry == 3) {
        c->o += b64_write(c->out + c->o, s->carry, 3);
        s->ncarry = 0;
    }
    size_t whole = (n - i) / 3 * 3;
    c->o += b64_write(c->out + c->o, p + i, whole);
    i += whole;
    while (i < n)
        s->carry[s->ncarry++] = p[i++];
}

/* ------------------------------------------------------------------ reading rows */

typedef struct {
    const mw_column *cols;
    size_t ncols;
    int binary;
    const uint8_t *buf;
    size_t pos;
    size_t end;
    const uint8_t *bitmap;
} row_t;

static int row_begin(tc_t *c, row_t *r)
{
    if (!r->binary)
        return MW_OK;
    if (r->pos >= r->end)
        return fail(c, MW_E_ROW_TRUNCATED, -1, r->pos, 0, 1);
    if (r->buf[r->pos] != 0x00)
        return fail(c, MW_E_ROW_HEADER, -1, r->pos, r->buf[r->pos], 0);
    r->pos++;
    size_t nbitmap = (r->ncols + 9) / 8;
    if (r->end - r->pos < nbitmap)
        return fail(c, MW_E_ROW_TRUNCATED, -2, r->pos, r->end - r->pos, nbitmap);
    r->bitmap = r->buf + r->pos;
    r->pos += nbitmap;
    return MW_OK;
}

static int row_finish(tc_t *c, row_t *r)
{
    if (r->pos != r->end)
        return fail(c, MW_E_ROW_TRAILING, -3, r->pos, r->end - r->pos, 0);
    return MW_OK;
}

/* A binary DATE/DATETIME/TIME at r->pos, formatted into v->t. */
static int read_temporal(tc_t *c, row_t *r, size_t i, val_t *v)
{
    const uint8_t *buf = r->buf;
    size_t end = r->end, at = r->pos;
    int32_t col = (int32_t)i;
    int kind = r->cols[i].kind;
    if (at >= end)
        return fail(c, MW_E_ROW_TRUNCATED, col, at, 0, 1);
    uint8_t length = buf[at];
    if (!mw_temporal_length_ok(kind, length))
        return fail(c, MW_E_ROW_TEMPORAL, col, at, length, 0);
    if (end - at < (size_t)length + 1)
        return fail(c, MW_E_ROW_TRUNCATED, col, at, end - at, (uint64_t)length + 1);
    r->pos = at + 1 + length;
    v->type = V_TEMPORAL;
    v->off = at;
    v->n = mw_format_temporal(v->t, buf + at + 1, length, kind, r->cols[i].decimals);
    v->p = (const uint8_t *)v->t;
    return MW_OK;
}

static int read_long(tc_t *c, row_t *r, size_t i, val_t *v);

/* Read column i's value at r->pos into v.  Inlined into the row loops (forced, see
 * json_value); the rare and the long cases are calls. */
static MW_FORCE_INLINE int read_value(tc_t *c, row_t *r, size_t i, val_t *v)
{
    const uint8_t *buf = r->buf;
    size_t end = r->end, at = r->pos;
    int32_t col = (int32_t)i;
    int kind = r->cols[i].kind;
    if (r->binary) {
        size_t bit = i + 2;
        if ((r->bitmap[bit >> 3] >> (bit & 7)) & 1 || kind == MW_K_NULL) {
            v->type = V_NULL;
            return MW_OK;
        }
        if (kind == MW_K_SINT || kind == MW_K_UINT) {
            size_t w = r->cols[i].width;
            if (end - at < w)
                return fail(c, MW_E_ROW_TRUNCATED, col, at, end - at, w);
            uint64_t x = mw_le(buf + at, (int)w);
            r->pos = at + w;
            v->type = V_INT;
            v->off = at;
            if (kind == MW_K_UINT || w == 0) {
                v->neg = 0;
                v->mag = x;
            } else {
                uint64_t sign = UINT64_C(1) << (8 * w - 1);
                v->neg = (x & sign) != 0;
                /* two's complement magnitude within w bytes */
                v->mag = v->neg ? (w == 8 ? (~x + 1) : ((sign << 1) - x)) : x;
            }
            return MW_OK;
        }
        if (kind == MW_K_FLOAT) {
            if (end - at < 4)
                return fail(c, MW_E_ROW_TRUNCATED, col, at, end - at, 4);
            uint32_t bits = (uint32_t)mw_le(buf + at, 4);
            memcpy(&v->f, &bits, sizeof v->f);
            r->pos = at + 4;
            v->type = V_FLOAT;
            v->off = at;
            if (!isfinite(v->f))
                return fail(c, MW_E_ROW_NONFINITE, col, at, 4, 0);
            return MW_OK;
        }
        if (kind == MW_K_DOUBLE) {
            if (end - at < 8)
                return fail(c, MW_E_ROW_TRUNCATED, col, at, end - at, 8);
            uint64_t bits = mw_le(buf + at, 8);
            memcpy(&v->d, &bits, sizeof v->d);
            r->pos = at + 8;
            v->type = V_DOUBLE;
            v->off = at;
            if (!isfinite(v->d))
                return fail(c, MW_E_ROW_NONFINITE, col, at, 8, 0);
            return MW_OK;
        }
        if (kind == MW_K_DATE || kind == MW_K_DATETIME || kind == MW_K_TIME)
            return read_temporal(c, r, i, v);
    }
    if (at >= end)
        return fail(c, MW_E_ROW_TRUNCATED, col, at, 0, 1);
    uint8_t first = buf[at];
    if (first < 0xFB) {
        if (end - at - 1 < first)
            return fail(c, MW_E_ROW_TRUNCATED_BODY, col, at, first, end - at - 1);
        v->type = V_TEXT;
        v->p = buf + at + 1;
        v->n = first;
        v->off = at + 1;
        r->pos = at + 1 + first;
        return MW_OK;
    }
    if (first == 0xFB && !r->binary) {
        r->pos = at + 1;
        v->type = V_NULL;
        return MW_OK;
    }
    return read_long(c, r, i, v);
}

/* A value with a 2-, 3- or 8-byte length (or a bad length prefix) at r->pos. */
static int read_long(tc_t *c, row_t *r, size_t i, val_t *v)
{
    const uint8_t *buf = r->buf;
    size_t end = r->end, at = r->pos;
    int32_t col = (int32_t)i;
    uint8_t first = buf[at];
    uint64_t n = 0;
    size_t w = 0;
    int st = mw_read_lenenc(buf, end, at, &n, &w);
    if (st == MW_E_BAD_PREFIX)
        return fail(c, MW_E_ROW_BAD_PREFIX, col, at, first, 0);
    if (st != 0)
        return fail(c, MW_E_ROW_TRUNCATED, col, at, end - at,
                    first == 0xFC ? 3 : first == 0xFD ? 4 : 9);
    size_t left = end - at - w;
    if (n > left)
        return fail(c, MW_E_ROW_TRUNCATED_BODY, col, at, n, left);
    v->type = V_TEXT;
    v->p = buf + at + w;
    v->n = (size_t)n;
    v->off = at + w;
    r->pos = at + w + (size_t)n;
    return MW_OK;
}

/* Check a V_TEXT value of kind and reduce numbers: ints to (neg, mag) as V_INT. */
static inline int check_text(tc_t *c, int kind, val_t *v, int32_t col)
{
    switch (kind) {
    case MW_K_SINT:
    case MW_K_UINT: {
        int st = text_int(c, kind, v->p, v->n, col, v->off, &v->neg, &v->mag);
        if (st != MW_OK)
            return st;
        return MW_OK;
    }
    case MW_K_DECIMAL:
    case MW_K_DATE:
    case MW_K_DATETIME:
    case MW_K_TIME:
        if (!valid_text(kind, v->p, v->n))
            return fail(c, MW_E_ROW_VALUE, col, v->off, v->n, 0);
        return MW_OK;
    case MW_K_BIT:
        if (v->n > MW_MAX_BIT_BYTES)
            return fail(c, MW_E_ROW_VALUE, col, v->off, v->n, 0);
        return MW_OK;
    case MW_K_UTF8:
        if (!utf8_valid(v->p, v->n))
            return fail(c, MW_E_ROW_UTF8, col, v->off, v->n, 0);
        return MW_OK;
    case MW_K_JSON:
        if (json_valid(v->p, v->n))
            return MW_OK;
        /* invalid UTF-8 is reported first, as when it was checked on its own */
        if (!utf8_valid(v->p, v->n))
            return fail(c, MW_E_ROW_UTF8, col, v->off, v->n, 0);
        return fail(c, MW_E_ROW_JSON, col, v->off, v->n, 0);
    default:
        return MW_OK;
    }
}

static uint64_t bit_value(const val_t *v)
{
    uint64_t x = 0;
    for (size_t k = 0; k < v->n; k++)
        x = (x << 8) | v->p[k];
    return x;
}

/* ------------------------------------------------------------------ json values */

static MW_FORCE_INLINE int json_int(tc_t *c, int opts, const val_t *v)
{
    ROOM(c, 24);
    char t[24];
    size_t k = int_text(t, v->neg, v->mag);
    if (opts & MW_OPT_QUOTE)
        w_byte(c, '"');
    w_bytes(c, t, k);
    if (opts & MW_OPT_QUOTE)
        w_byte(c, '"');
    return MW_OK;
}

/* Inlined into the row loop (forced: without it the compiler's choice flips with small
 * edits elsewhere, and the call costs about as much as writing a short value). */
static MW_FORCE_INLINE int json_value(tc_t *c, const mw_column *col_, val_t *v, int32_t col)
{
    int kind = col_->kind;
    int opts = col_->opts;
    if (v->type == V_NULL) {
        ROOM(c, 4);
        w_bytes(c, "null", 4);
        return MW_OK;
    }
    if (v->type == V_INT)
        return json_int(c, opts, v);
    if (v->type == V_DOUBLE || v->type == V_FLOAT) {
        ROOM(c, MW_DTOA_MAX);
        c->o += v->type == V_DOUBLE ? mw_dtoa_double(c->out + c->o, v->d)
                                    : mw_dtoa_float(c->out + c->o, v->f);
        return MW_OK;
    }
    if (v->type == V_TEMPORAL) {
        ROOM(c, v->n + 2);
        w_byte(c, '"');
        w_bytes(c, v->p, v->n);
        w_byte(c, '"');
        return MW_OK;
    }
    /* V_TEXT */
    switch (kind) {
    case MW_K_UTF8:
        return json_utf8(c, v->p, v->n, col, v->off);
    case MW_K_SINT:
    case MW_K_UINT: {
        if (canonical_int(kind, v->p, v->n)) {
            /* already the canonical digits, and in range: copy */
            ROOM(c, v->n + 2);
            if (opts & MW_OPT_QUOTE)
                w_byte(c, '"');
            w_bytes(c, v->p, v->n);
            if (opts & MW_OPT_QUOTE)
                w_byte(c, '"');
            return MW_OK;
        }
        int st = check_text(c, kind, v, col);
        if (st != MW_OK)
            return st;
        return json_int(c, opts, v);
    }
    case MW_K_FLOAT:
    case MW_K_DOUBLE: {
        ROOM(c, MW_DTOA_MAX);
        int status = MW_OK;
        size_t k = float_text(v->p, v->n, c->out + c->o, &status);
        if (!k)
            return fail(c, status, col, v->off, v->n, 0);
        c->o += k;
        return MW_OK;
    }
    case MW_K_DECIMAL: {
        int st = check_text(c, kind, v, col);
        if (st != MW_OK)
            return st;
        ROOM(c, v->n + 2);
        if (opts & MW_OPT_NUMBER) {
            size_t i = 0;
            if (v->p[0] == '-') {
                w_byte(c, '-');
                i = 1;
            }
            while (i + 1 < v->n && v->p[i] == '0' && is_digit(v->p[i + 1]))
                i++;
            w_bytes(c, v->p + i, v->n - i);
        } else {
            w_byte(c, '"');
            w_bytes(c, v->p, v->n);
            w_byte(c, '"');
        }
        return MW_OK;
    }
    case MW_K_DATE:
    case MW_K_DATETIME:
    case MW_K_TIME: {
        int st = check_text(c, kind, v, col);
        if (st != MW_OK)
            return st;
        ROOM(c, v->n + 2);
        w_byte(c, '"');
        w_bytes(c, v->p, v->n);
        w_byte(c, '"');
        return MW_OK;
    }
    case MW_K_BIT: {
        int st = check_text(c, kind, v, col);
        if (st != MW_OK)
            return st;
        ROOM(c, 24);
        char t[24];
        size_t k = put_digits(t, bit_value(v), 1);
        w_bytes(c, t, k);
        return MW_OK;
    }
    case MW_K_LATIN1:
        return json_latin1(c, v->p, v->n);
    case MW_K_JSON: {
        int st = check_text(c, kind, v, col);
        if (st != MW_OK)
            return st;
        ROOM(c, v->n);
        if (c->fmt == MW_FMT_NDJSON) {
            /* CR and LF can only be whitespace between tokens (inside strings they are
             * escaped): spaces keep one row per line */
            for (size_t i = 0; i < v->n; i++) {
                uint8_t ch = v->p[i];
                c->out[c->o++] = ch == '\n' || ch == '\r' ? ' ' : ch;
            }
            return MW_OK;
        }
        w_bytes(c, v->p, v->n);
        return MW_OK;
    }
    default: /* MW_K_BYTES, MW_K_NULL in text rows */
        ROOM(c, b64_len(v->n) + 2);
        w_byte(c, '"');
        c->o += b64_write(c->out + c->o, v->p, v->n);
        w_byte(c, '"');
        return MW_OK;
    }
}

/* ------------------------------------------------------------------ msgpack values */

/* An integer value; MW_MP_MAX_HEADER bytes of room are checked already. */
static MW_FORCE_INLINE int mp_int(tc_t *c, int opts, const val_t *v, int32_t col)
{
    if (opts & MW_OPT_QUOTE) {
        char t[24];
        size_t k = int_text(t, v->neg, v->mag);
        return mp_bytes(c, 1, (const uint8_t *)t, k, col, v->off);
    }
    if (v->neg)
        c->o += mw_mp_int(c->out + c->o,
                          v->mag == (UINT64_C(1) << 63) ? INT64_MIN : -(int64_t)v->mag);
    else
        c->o += mw_mp_uint(c->out + c->o, v->mag);
    return MW_OK;
}

static MW_FORCE_INLINE int mp_value(tc_t *c, const mw_column *col_, val_t *v, int32_t col)
{
    int kind = col_->kind;
    int opts = col_->opts;
    ROOM(c, MW_MP_MAX_HEADER);
    switch (v->type) {
    case V_NULL:
        c->o += mw_mp_nil(c->out + c->o);
        return MW_OK;
    case V_INT:
        return mp_int(c, opts, v, col);
    case V_DOUBLE:
        c->o += mw_mp_double(c->out + c->o, v->d);
        return MW_OK;
    case V_FLOAT: {
        /* float 64 of the shortest float32 text: equal to what the JSON text parses to */
        uint8_t t[MW_DTOA_MAX];
        size_t k = mw_dtoa_float(t, v->f);
        double d = 0;
        (void)parse_double(t, k, &d);
        c->o += mw_mp_double(c->out + c->o, d);
        return MW_OK;
    }
    case V_TEMPORAL:
        return mp_bytes(c, 1, v->p, v->n, col, v->off);
    default:
        break;
    }
    switch (kind) {
    case MW_K_UTF8:
    case MW_K_JSON: {
        int st = check_text(c, kind, v, col);
        if (st != MW_OK)
            return st;
        return mp_bytes(c, 1, v->p, v->n, col, v->off);
    }
    case MW_K_SINT:
    case MW_K_UINT: {
        int st = check_text(c, kind, v, col);
        if (st != MW_OK)
            return st;
        return mp_int(c, opts, v, col);
    }
    case MW_K_FLOAT:
    case MW_K_DOUBLE: {
        double d;
        if (!parse_double(v->p, v->n, &d))
            return fail(c, MW_E_ROW_VALUE, col, v->off, v->n, 0);
        if (!isfinite(d))
            return fail(c, MW_E_ROW_NONFINITE, col, v->off, v->n, 0);
        c->o += mw_mp_double(c->out + c->o, d);
        return MW_OK;
    }
    case MW_K_DECIMAL: {
        int st = check_text(c, kind, v, col);
        if (st != MW_OK)
            return st;
        if (opts & MW_OPT_NUMBER) {
            double d = 0;
            if (!parse_double(v->p, v->n, &d) || !isfinite(d)) /* longer than any DECIMAL */
                return fail(c, MW_E_ROW_NONFINITE, col, v->off, v->n, 0);
            c->o += mw_mp_double(c->out + c->o, d);
            return MW_OK;
        }
        return mp_bytes(c, 1, v->p, v->n, col, v->off);
    }
    case MW_K_DATE:
    case MW_K_DATETIME:
    case MW_K_TIME: {
        int st = check_text(c, kind, v, col);
        if (st != MW_OK)
            return st;
        return mp_bytes(c, 1, v->p, v->n, col, v->off);
    }
    case MW_K_BIT: {
        int st = check_text(c, kind, v, col);
        if (st != MW_OK)
            return st;
        c->o += mw_mp_uint(c->out + c->o, bit_value(v));
        return MW_OK;
    }
    case MW_K_LATIN1: {
        size_t len = latin1_utf8_len(v->p, v->n);
        if ((uint64_t)len > 0xFFFFFFFFu)
            return fail(c, MW_E_ARGUMENT, col, v->off, len, 0);
        ROOM(c, MW_MP_MAX_HEADER + len);
        c->o += mw_mp_str_header(c->out + c->o, len);
        for (size_t i = 0; i < v->n; i++)
            c->o += latin1_utf8(c->out + c->o, v->p[i]);
        return MW_OK;
    }
    default:
        return mp_bytes(c, 0, v->p, v->n, col, v->off);
    }
}

/* ------------------------------------------------------------------ psdb values */

/* The text form of a value for psdb: *pp and *n (pointing into the row or into t), or
 * *latin1 set when it is latin1 text to convert.  Checks the value. */
static int psdb_text(tc_t *c, const mw_column *col_, val_t *v, int32_t col, uint8_t *t,
                     const uint8_t **pp, size_t *n, int *latin1)
{
    *latin1 = 0;
    switch (v->type) {
    case V_INT:
        *n = int_text((char *)t, v->neg, v->mag);
        *pp = t;
        return MW_OK;
    case V_DOUBLE:
        *n = mw_dtoa_double(t, v->d);
        *pp = t;
        return MW_OK;
    case V_FLOAT:
        *n = mw_dtoa_float(t, v->f);
        *pp = t;
        return MW_OK;
    case V_TEMPORAL:
        *pp = v->p;
        *n = v->n;
        return MW_OK;
    default:
        break;
    }
    int kind = col_->kind;
    if (kind == MW_K_FLOAT || kind == MW_K_DOUBLE) {
        int status = MW_OK;
        if (!float_text(v->p, v->n, t, &status))
            return fail(c, status, col, v->off, v->n, 0);
    } else if (kind == MW_K_SINT || kind == MW_K_UINT) {
        int neg;
        uint64_t mag;
        int st = text_int(c, kind, v->p, v->n, col, v->off, &neg, &mag);
        if (st != MW_OK)
            return st;
    } else {
        int st = check_text(c, kind, v, col);
        if (st != MW_OK)
            return st;
    }
    *pp = v->p;
    *n = v->n;
    *latin1 = kind == MW_K_LATIN1;
    return MW_OK;
}

/* ------------------------------------------------------------------ rows */

static int json_row(tc_t *c, row_t *r, int newline)
{
    int st = row_begin(c, r);
    if (st != MW_OK)
        return st;
    ROOM(c, 1);
    w_byte(c, '[');
    val_t v;
    for (size_t i = 0; i < r->ncols; i++) {
        st = read_value(c, r, i, &v);
        if (st != MW_OK)
            return st;
        if (i) {
            ROOM(c, 1);
            w_byte(c, ',');
        }
        st = json_value(c, &r->cols[i], &v, (int32_t)i);
        if (st != MW_OK)
            return st;
    }
    st = row_finish(c, r);
    if (st != MW_OK)
        return st;
    ROOM(c, 2);
    w_byte(c, ']');
    if (newline)
        w_byte(c, '\n');
    return MW_OK;
}

static int mp_row(tc_t *c, row_t *r)
{
    int st = row_begin(c, r);
    if (st != MW_OK)
        return st;
    ROOM(c, 5);
    c->o += mw_mp_array_header(c->out + c->o, r->ncols);
    val_t v;
    for (size_t i = 0; i < r->ncols; i++) {
        st = read_value(c, r, i, &v);
        if (st != MW_OK)
            return st;
        st = mp_value(c, &r->cols[i], &v, (int32_t)i);
        if (st != MW_OK)
            return st;
    }
    return row_finish(c, r);
}

/* {"lengths":["L",...],"values":"B"}: a first pass checks the values and writes the
 * lengths, a second streams the text forms through base64. */
static int psdb_row(tc_t *c, row_t *r)
{
    row_t again = *r;
    int st = row_begin(c, r);
    if (st != MW_OK)
        return st;
    ROOM(c, 12);
    w_bytes(c, "{\"lengths\":[", 12);
    val_t v;
    uint8_t t[MW_DTOA_MAX + 64];
    size_t total = 0;
    for (size_t i = 0; i < r->ncols; i++) {
        st = read_value(c, r, i, &v);
        if (st != MW_OK)
            return st;
        ROOM(c, 24);
        if (i)
            w_byte(c, ',');
        if (v.type == V_NULL) {
            w_bytes(c, "\"-1\"", 4);
            continue;
        }
        const uint8_t *p;
        size_t n;
        int latin1;
        st = psdb_text(c, &r->cols[i], &v, (int32_t)i, t, &p, &n, &latin1);
        if (st != MW_OK)
            return st;
        if (latin1)
            n = latin1_utf8_len(p, n);
        char d[24];
        size_t k = put_digits(d, n, 1);
        w_byte(c, '"');
        w_bytes(c, d, k);
        w_byte(c, '"');
        total += n;
    }
    st = row_finish(c, r);
    if (st != MW_OK)
        return st;
    ROOM(c, 13 + b64_len(total) + 2);
    w_bytes(c, "],\"values\":\"", 12);
    /* second pass: the row is known to be valid */
    (void)row_begin(c, &again);
    b64s_t s = {{0, 0, 0}, 0};
    for (size_t i = 0; i < again.ncols; i++) {
        (void)read_value(c, &again, i, &v);
        if (v.type == V_NULL)
            continue;
        const uint8_t *p;
        size_t n;
        int latin1;
        (void)psdb_text(c, &again.cols[i], &v, (int32_t)i, t, &p, &n, &latin1);
        if (!latin1) {
            b64s_feed(c, &s, p, n);
            continue;
        }
        for (size_t j = 0; j < n; j++) {
            uint8_t u[3];
            size_t k = latin1_utf8(u, p[j]);
            b64s_feed(c, &s, u, k);
        }
    }
    c->o += b64_write(c->out + c->o, s.carry, s.ncarry);
    w_bytes(c, "\"}", 2);
    return MW_OK;
}

int mw_transcode_rows(const mw_column *cols, size_t ncols, int32_t binary, int32_t format,
                      int32_t sep, const uint8_t *buf, size_t len, const uint64_t *spans,
                      size_t nspans, size_t first, size_t count, uint64_t budget, uint8_t *out,
                      size_t outlen, mw_rows_result *res)
{
    memset(res, 0, sizeof *res);
    res->column = -3;
    tc_t c = {out, outlen, 0, format, res};
    for (size_t r = 0; r < nspans; r++) {
        uint64_t start = spans[2 * r], n = spans[2 * r + 1];
        if (start > len || n > len - start) {
            res->row = r;
            return fail(&c, MW_E_ROW_SPAN, -3, (size_t)start, n, len);
        }
    }
    if (first > nspans || count > nspans - first || format < MW_FMT_JSON ||
        format > MW_FMT_PSDB || ncols > 0xFFFFFFFFu)
        return fail(&c, MW_E_ARGUMENT, -3, 0, 0, 0);
    for (size_t i = 0; i < ncols; i++)
        if (cols[i].kind == MW_K_TEXT || cols[i].kind == 0 || cols[i].kind > MW_K_JSON)
            return fail(&c, MW_E_ARGUMENT, (int32_t)i, 0, cols[i].kind, 0);
    int status = MW_OK;
    for (size_t r = first; r < first + count; r++) {
        size_t save = c.o;
        row_t row = {cols, ncols, binary != 0, buf, (size_t)spans[2 * r],
                     (size_t)(spans[2 * r] + spans[2 * r + 1]), NULL};
        int st;
        if ((format == MW_FMT_JSON || format == MW_FMT_PSDB) && (r > first || sep)) {
            if (c.cap - c.o < 1) {
                status = MW_ROWS_FULL;
                break;
            }
            w_byte(&c, ',');
        }
        if (format == MW_FMT_MSGPACK)
            st = mp_row(&c, &row);
        else if (format == MW_FMT_PSDB)
            st = psdb_row(&c, &row);
        else
            st = json_row(&c, &row, format == MW_FMT_NDJSON);
        if (st == MW_ROWS_FULL) {
            c.o = save;
            status = MW_ROWS_FULL;
            break;
        }
        if (st != MW_OK) {
            res->row = r;
            res->rows = r - first;
            return st;
        }
        if ((uint64_t)c.o > budget) {
            c.o = save;
            status = MW_ROWS_BUDGET;
            break;
        }
        res->rows++;
    }
    res->end = c.o;
    res->status = status;
    res->column = 0;
    return status;
}
