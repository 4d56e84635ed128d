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

/* Eight bytes that a JSON string copies as they are: ASCII, no control, '"' or '\\'. */
static int plain8(const uint8_t *p)
{
    const uint64_t lo = UINT64_C(0x0101010101010101), hi = UINT64_C(0x8080808080808080);
    uint64_t w;
    memcpy(&w, p, 8);
    uint64_t q = w ^ (lo * '"'), b = w ^ (lo * '\\');
    uint64_t special = ((w - lo * 0x20) & ~w) | ((q - lo) & ~q) | ((b - lo) & ~b) | w;
    return (special & hi) == 0;
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

static size_t skip_ws(const uint8_t *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

static int is_hex(uint8_t ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* Eight bytes a JSON string holds as they are: no '"', '\\' or control (bytes of 0x80
 * and up are fine: the text is valid UTF-8 already). */
static int string8(const uint8_t *p)
{
    const uint64_t lo = UINT64_C(0x0101010101010101), hi = UINT64_C(0x8080808080808080);
    uint64_t w;
    memcpy(&w, p, 8);
    uint64_t q = w ^ (lo * '"'), b = w ^ (lo * '\\');
    uint64_t ctl = (w & ~hi) - lo * 0x20; /* high bit set where the low 7 bits < 0x20 */
    uint64_t special = (ctl & ~w) | ((q - lo) & ~q) | ((b - lo) & ~b);
    return (special & hi) == 0;
}

/* A JSON string starting at p[i] == '"'; returns the index after it, or 0. */
static size_t json_string(const uint8_t *p, size_t n, size_t i)
{
    i++;
    while (i < n) {
        while (n - i >= 8 && string8(p + i))
            i += 8;
        if (i >= n)
            break;
        uint8_t ch = p[i];
        if (ch == '"')
            return i + 1;
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
    return 0;
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
        i += count_digits(p, n, i);
    if (i < n && p[i] == '.') {
        size_t d = count_digits(p, n, i + 1);
        if (!d)
            return 0;
        i += 1 + d;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        size_t d = count_digits(p, n, i);
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

/* RFC 8259 JSON text (UTF-8 already checked), nesting at most MAX_JSON_DEPTH. */
static int json_valid(const uint8_t *p, size_t n)
{
    uint8_t is_obj[MAX_JSON_DEPTH / 8] = {0};
    int depth = 0;
    size_t i = skip_ws(p, n, 0);
value:
    if (i >= n)
        return 0;
    switch (p[i]) {
    case '{':
    case '[':
        if (depth == MAX_JSON_DEPTH)
            return 0;
        if (p[i] == '{')
            is_obj[depth >> 3] = (uint8_t)(is_obj[depth >> 3] | (1u << (depth & 7)));
        else
            is_obj[depth >> 3] = (uint8_t)(is_obj[depth >> 3] & ~(1u << (depth & 7)));
        depth++;
        i = skip_ws(p, n, i + 1);
        if (i < n && ((is_obj[(depth - 1) >> 3] >> ((depth - 1) & 7)) & 1 ? p[i] == '}'
                                                                           : p[i] == ']')) {
            depth--;
            i++;
            goto after;
        }
        if ((is_obj[(depth - 1) >> 3] >> ((depth - 1) & 7)) & 1)
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
    if ((is_obj[(depth - 1) >> 3] >> ((depth - 1) & 7)) & 1) {
        if (p[i] == ',') {
            i = skip_ws(p, n, i + 1);
            goto key;
        }
        if (p[i] == '}') {
            depth--;
            i++;
            goto after;
        }
        return 0;
    }
    if (p[i] == ',') {
        i = skip_ws(p, n, i + 1);
        goto value;
    }
    if (p[i] == ']') {
        depth--;
        i++;
        goto after;
    }
    return 0;
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

/* Text integer: grammar and range as the row decoder checks them. */
static int text_int(tc_t *c, int kind, const uint8_t *p, size_t n, int32_t col, size_t off,
                    int *neg_out, uint64_t *mag_out)
{
    size_t i = n > 0 && p[0] == '-' ? 1 : 0;
    int neg = (int)i;
    if (i == n)
        return fail(c, MW_E_ROW_VALUE, col, off, n, 0);
    for (size_t k = i; k < n; k++)
        if (!is_digit(p[k]))
            return fail(c, MW_E_ROW_VALUE, col, off, n, 0);
    uint64_t mag = 0;
    for (size_t k = i; k < n; k++) {
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

/* Text that is already a canonical integer (-?[1-9][0-9]* or 0): 1 when it has at most
 * 18 digits, so it is within every 64-bit range (negatives for UNSIGNED take the checked
 * path), 2 when it has 19 or 20 and needs the range check; 0 otherwise.  Canonical text
 * is written as it is. */
static inline int canonical_small_int(int kind, const uint8_t *p, size_t n)
{
    size_t i = 0;
    if (n && p[0] == '-') {
        if (kind == MW_K_UINT)
            return 0;
        i = 1;
    }
    size_t digits = n - i;
    if (digits == 0 || digits > 20 || (p[i] == '0' && (digits > 1 || i)))
        return 0;
    for (; i < n; i++)
        if (!is_digit(p[i]))
            return 0;
    return digits <= 18 ? 1 : 2;
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
    /* One pass checks -?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)? and gathers the significant
     * digits; the value itself is computed only when the digits cannot be kept. */
    size_t i = 0;
    int neg = 0;
    *status = MW_E_ROW_VALUE;
    if (n > MW_MAX_FLOAT_TEXT)
        return 0;
    if (i < n && p[0] == '-') {
        neg = 1;
        i = 1;
    }
    size_t nd = 0, zeros = 0, frac = 0;
    uint64_t f = 0;
    int seen = 0, many = 0;
    for (int part = 0; part < 2; part++) {
        size_t start = i;
        for (; i < n && is_digit(p[i]); i++) {
            if (part)
                frac++;
            unsigned d = (unsigned)(p[i] - '0');
            if (d == 0) {
                zeros += seen;
                continue;
            }
            seen = 1;
            /* a non-zero digit: the pending zeros are significant */
            nd += zeros + 1;
            if (nd > 15) {
                many = 1;
            } else {
                for (size_t z = 0; z < zeros; z++)
                    f *= 10;
                f = f * 10 + d;
            }
            zeros = 0;
        }
        if (i == start)
            return 0;
        if (part || i >= n || p[i] != '.')
            break;
        i++;
    }
    int64_t x = 0;
    if (i < n) {
        if (p[i] != 'e' && p[i] != 'E')
            return 0;
        i++;
        int eneg = 0;
        if (i < n && (p[i] == '+' || p[i] == '-')) {
            eneg = p[i] == '-';
            i++;
        }
        size_t start = i;
        for (; i < n && is_digit(p[i]); i++)
            if (x < 100000)
                x = x * 10 + (p[i] - '0');
        if (i == start || i != n)
            return 0;
        if (eneg)
            x = -x;
    }
    *status = MW_OK;
    if (!seen) {
        if (neg) {
            memcpy(t, "-0.0", 4);
            return 4;
        }
        memcpy(t, "0.0", 3);
        return 3;
    }
    if (!many) {
        /* value = f * 10^e, e counted at the last non-zero digit */
        int64_t e = x - (int64_t)frac + (int64_t)zeros;
        int64_t first = e + (int64_t)nd - 1;
        if (first >= -307 && first <= 307)
            return mw_dtoa_layout(t, neg, f, (int)e);
    }
    double v = 0;
    (void)parse_double(p, n, &v);
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

static void w_bytes(tc_t *c, const void *p, size_t n)
{
    if (n)
        memcpy(c->out + c->o, p, n);
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
        size_t run = i;
        while (n - run >= 8 && plain8(p + run))
            run += 8;
        while (run < n && JSON_CLASS[p[run]] == 0)
            run++;
        if (run > i) {
            memcpy(o, p + i, run - i);
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
        o[k++] = (uint8_t)B64[v >> 18];
        o[k++] = (uint8_t)B64[(v >> 12) & 63];
        o[k++] = (uint8_t)B64[(v >> 6) & 63];
        o[k++] = (uint8_t)B64[v & 63];
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

/* Read column i's value at r->pos into v. */
static inline int read_value(tc_t *c, row_t *r, size_t i, val_t *v)
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
        if (kind == MW_K_DATE || kind == MW_K_DATETIME || kind == MW_K_TIME) {
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
        if (!utf8_valid(v->p, v->n))
            return fail(c, MW_E_ROW_UTF8, col, v->off, v->n, 0);
        if (!json_valid(v->p, v->n))
            return fail(c, MW_E_ROW_JSON, col, v->off, v->n, 0);
        return MW_OK;
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

static int json_value(tc_t *c, const mw_column *col_, val_t *v, int32_t col)
{
    int kind = col_->kind;
    int opts = col_->opts;
    if (v->type == V_NULL) {
        ROOM(c, 4);
        w_bytes(c, "null", 4);
        return MW_OK;
    }
    if (v->type == V_INT) {
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
        int canonical = canonical_small_int(kind, v->p, v->n);
        if (canonical == 2) {
            int neg;
            uint64_t mag;
            int st = text_int(c, kind, v->p, v->n, col, v->off, &neg, &mag);
            if (st != MW_OK)
                return st;
        }
        if (canonical) {
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
        v->type = V_INT;
        return json_value(c, col_, v, col);
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

static int mp_value(tc_t *c, const mw_column *col_, val_t *v, int32_t col)
{
    int kind = col_->kind;
    int opts = col_->opts;
    ROOM(c, MW_MP_MAX_HEADER);
    switch (v->type) {
    case V_NULL:
        c->o += mw_mp_nil(c->out + c->o);
        return MW_OK;
    case V_INT:
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
        v->type = V_INT;
        return mp_value(c, col_, v, col);
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
