/* Row decoder: text-protocol and binary-protocol rows to one msgpack document.
 *
 * The C twin of mywire/_pyrows.py.  For each row (a span of buf) it writes a msgpack
 * array of the row's raw values, as mywire/_rowspec.py defines them per column kind:
 * nil, int, float 64, str (UTF-8 text, JSON, DECIMAL and temporal text) or bin (bytes,
 * and text in other charsets, which Python decodes).  The rows together form one msgpack
 * array whose header is written last, right-aligned in the 5 bytes reserved at the start
 * of out, so it has the smallest size packb would choose.
 *
 * Every read is checked against the row's end; a failing row reports the status, column,
 * offset and numbers mywire/_rowspec.py turns into an exception.  A row that does not fit
 * in out is rolled back and the call ends with MW_ROWS_FULL.  No state, no allocation.
 */
#include <float.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "mywire_api.h"
#include "mw_msgpack.h"
#include "mw_reader.h"

#define MAX_FLOAT_TEXT 400 /* _rowspec.MAX_FLOAT_TEXT */
#define MAX_BIT_BYTES 8
#define OUTER_RESERVE 5 /* the largest array header */
#define MAX_MSGPACK_LEN 0xFFFFFFFFu

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define EXACT_DOUBLE_OPS 1
#else
#define EXACT_DOUBLE_OPS 0 /* x87 extended precision: always let strtod round */
#endif

typedef struct {
    uint8_t *out;
    size_t cap;
    size_t o; /* write position in out */
    mw_rows_result *res;
} ctx_t;

#define ROOM(c, n)                                   \
    do {                                             \
        if ((c)->cap - (c)->o < (size_t)(n))         \
            return MW_ROWS_FULL;                     \
    } while (0)

static int fail(ctx_t *c, int status, int32_t column, size_t offset, uint64_t a, uint64_t b)
{
    c->res->status = status;
    c->res->column = column;
    c->res->offset = offset;
    c->res->a = a;
    c->res->b = b;
    return status;
}

static int is_digit(uint8_t ch)
{
    return ch >= '0' && ch <= '9';
}

/* ------------------------------------------------------------------ writers */

static int put_bytes(ctx_t *c, int as_str, const uint8_t *v, size_t n, int32_t col, size_t off)
{
    if ((uint64_t)n > MAX_MSGPACK_LEN)
        return fail(c, MW_E_ARGUMENT, col, off, n, 0);
    ROOM(c, MW_MP_MAX_HEADER + n);
    c->o += as_str ? mw_mp_str_header(c->out + c->o, n) : mw_mp_bin_header(c->out + c->o, n);
    if (n)
        memcpy(c->out + c->o, v, n);
    c->o += n;
    return MW_OK;
}

static int put_uint(ctx_t *c, uint64_t v)
{
    ROOM(c, MW_MP_MAX_HEADER);
    c->o += mw_mp_uint(c->out + c->o, v);
    return MW_OK;
}

static int put_int(ctx_t *c, int64_t v)
{
    ROOM(c, MW_MP_MAX_HEADER);
    c->o += mw_mp_int(c->out + c->o, v);
    return MW_OK;
}

static int put_double(ctx_t *c, double v)
{
    ROOM(c, MW_MP_MAX_HEADER);
    c->o += mw_mp_double(c->out + c->o, v);
    return MW_OK;
}

static int put_nil(ctx_t *c)
{
    ROOM(c, 1);
    c->o += mw_mp_nil(c->out + c->o);
    return MW_OK;
}

/* ------------------------------------------------------------------ text grammars */

static size_t count_digits(const uint8_t *p, size_t n, size_t i)
{
    size_t k = i;
    while (k < n && is_digit(p[k]))
        k++;
    return k - i;
}

static int two_digits(const uint8_t *p, size_t i)
{
    return is_digit(p[i]) && is_digit(p[i + 1]);
}

/* Nothing, or '.' and 1..6 digits, from p[i] to the end. */
static int valid_frac(const uint8_t *p, size_t n, size_t i)
{
    if (i == n)
        return 1;
    if (p[i] != '.')
        return 0;
    size_t d = count_digits(p, n, i + 1);
    return d >= 1 && d <= 6 && i + 1 + d == n;
}

/* YYYY-MM-DD at the start (n >= 10 checked here). */
static int valid_date_part(const uint8_t *p, size_t n)
{
    return n >= 10 && count_digits(p, 4, 0) == 4 && p[4] == '-' && two_digits(p, 5) &&
           p[7] == '-' && two_digits(p, 8);
}

/* hh:mm:ss at p[i] (n - i >= 8 checked here). */
static int valid_clock(const uint8_t *p, size_t n, size_t i)
{
    return n - i >= 8 && two_digits(p, i) && p[i + 2] == ':' && two_digits(p, i + 3) &&
           p[i + 5] == ':' && two_digits(p, i + 6);
}

static int valid_text(int kind, const uint8_t *p, size_t n)
{
    size_t i = 0;
    switch (kind) {
    case MW_K_DATE:
        return n == 10 && valid_date_part(p, n);
    case MW_K_DATETIME:
        return valid_date_part(p, n) && n >= 19 && p[10] == ' ' && valid_clock(p, n, 11) &&
               valid_frac(p, n, 19);
    case MW_K_TIME: {
        if (n > 0 && p[0] == '-')
            i = 1;
        size_t h = count_digits(p, n, i);
        if (h < 2)
            return 0;
        i += h;
        /* ":mm:ss" */
        return n - i >= 6 && p[i] == ':' && two_digits(p, i + 1) && p[i + 3] == ':' &&
               two_digits(p, i + 4) && valid_frac(p, n, i + 6);
    }
    default: { /* MW_K_DECIMAL: -?[0-9]+(.[0-9]+)? */
        if (n > 0 && p[0] == '-')
            i = 1;
        size_t d = count_digits(p, n, i);
        if (d == 0)
            return 0;
        i += d;
        if (i == n)
            return 1;
        if (p[i] != '.')
            return 0;
        d = count_digits(p, n, i + 1);
        return d >= 1 && i + 1 + d == n;
    }
    }
}

/* ------------------------------------------------------------------ numbers */

static const double POW10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* The value of -?[0-9]+(.[0-9]+)?([eE][-+]?[0-9]+)? rounded to nearest like Python's
 * float(): exactly representable mantissa and power of ten in one IEEE operation
 * (Clinger's fast path, correctly rounded), else the C library's strtod (correctly
 * rounded on glibc) on a bounded stack copy, with '.' swapped for the locale's decimal
 * point.  Returns 0 when the text does not match the grammar or is too long. */
static int parse_double(const uint8_t *p, size_t n, double *out)
{
    if (n > MAX_FLOAT_TEXT)
        return 0;
    size_t i = 0;
    int neg = 0;
    if (i < n && p[i] == '-') {
        neg = 1;
        i++;
    }
    const size_t body = i;
    uint64_t m = 0;
    int nd = 0, exact = 1;
    int64_t e10 = 0;
    size_t start = i;
    for (; i < n && is_digit(p[i]); i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (nd < 19) {
            if (m || d) {
                m = m * 10 + d;
                nd++;
            }
        } else {
            e10++;
            if (d)
                exact = 0;
        }
    }
    if (i == start)
        return 0;
    if (i < n && p[i] == '.') {
        start = ++i;
        for (; i < n && is_digit(p[i]); i++) {
            unsigned d = (unsigned)(p[i] - '0');
            if (nd < 19) {
                if (m || d) {
                    m = m * 10 + d;
                    nd++;
                }
                e10--;
            } else if (d) {
                exact = 0;
            }
        }
        if (i == start)
            return 0;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < n && (p[i] == '+' || p[i] == '-')) {
            eneg = p[i] == '-';
            i++;
        }
        start = i;
        int64_t ev = 0;
        for (; i < n && is_digit(p[i]); i++) {
            if (ev < 100000) /* beyond this the value is 0 or inf anyway */
                ev = ev * 10 + (p[i] - '0');
        }
        if (i == start)
            return 0;
        e10 += eneg ? -ev : ev;
    }
    if (i != n)
        return 0;

    double v;
    if (m == 0) {
        v = 0.0;
    } else if (EXACT_DOUBLE_OPS && exact && m <= (UINT64_C(1) << 53) && e10 >= -22 &&
               e10 <= 22) {
        v = (double)m;
        if (e10 > 0)
            v *= POW10[e10];
        else if (e10 < 0)
            v /= POW10[-e10];
    } else {
        char tmp[MAX_FLOAT_TEXT + 16];
        const struct lconv *lc = localeconv();
        const char *point = lc && lc->decimal_point && lc->decimal_point[0] ? lc->decimal_point : ".";
        size_t plen = strlen(point);
        if (plen > 8) {
            point = ".";
            plen = 1;
        }
        size_t k = 0;
        for (size_t j = body; j < n; j++) {
            if (p[j] == '.') {
                memcpy(tmp + k, point, plen);
                k += plen;
            } else {
                tmp[k++] = (char)p[j];
            }
        }
        tmp[k] = '\0';
        v = strtod(tmp, NULL);
    }
    *out = neg ? -v : v;
    return 1;
}

static int text_int(ctx_t *c, int kind, const uint8_t *p, size_t n, int32_t col, size_t off)
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
    if (kind == MW_K_UINT) {
        if (neg && mag != 0)
            return fail(c, MW_E_ROW_RANGE, col, off, n, 0);
        return put_uint(c, mag);
    }
    if (!neg) {
        if (mag >= limit)
            return fail(c, MW_E_ROW_RANGE, col, off, n, 0);
        return put_uint(c, mag);
    }
    if (mag > limit)
        return fail(c, MW_E_ROW_RANGE, col, off, n, 0);
    return put_int(c, mag == limit ? INT64_MIN : -(int64_t)mag);
}

/* The content p[0..n) of a length-encoded value, at offset off of buf. */
static int text_value(ctx_t *c, int kind, const uint8_t *p, size_t n, int32_t col, size_t off)
{
    switch (kind) {
    case MW_K_UTF8:
        return put_bytes(c, 1, p, n, col, off);
    case MW_K_SINT:
    case MW_K_UINT:
        return text_int(c, kind, p, n, col, off);
    case MW_K_FLOAT:
    case MW_K_DOUBLE: {
        double v;
        if (!parse_double(p, n, &v))
            return fail(c, MW_E_ROW_VALUE, col, off, n, 0);
        return put_double(c, v);
    }
    case MW_K_DECIMAL:
    case MW_K_DATE:
    case MW_K_DATETIME:
    case MW_K_TIME:
        if (!valid_text(kind, p, n))
            return fail(c, MW_E_ROW_VALUE, col, off, n, 0);
        return put_bytes(c, 1, p, n, col, off);
    case MW_K_BIT: {
        if (n > MAX_BIT_BYTES)
            return fail(c, MW_E_ROW_VALUE, col, off, n, 0);
        uint64_t v = 0;
        for (size_t k = 0; k < n; k++)
            v = (v << 8) | p[k];
        return put_uint(c, v);
    }
    default: /* MW_K_BYTES, MW_K_TEXT, MW_K_NULL (text rows) */
        return put_bytes(c, 0, p, n, col, off);
    }
}

/* Length-encoded value at buf[*pos] (row ends at end): NULL (text rows only) or its
 * content, then text_value. */
static int lenenc_value(ctx_t *c, const uint8_t *buf, size_t *pos, size_t end, int kind,
                        int32_t col, int binary)
{
    size_t at = *pos;
    if (at >= end)
        return fail(c, MW_E_ROW_TRUNCATED, col, at, 0, 1);
    uint8_t first = buf[at];
    if (first == 0xFB && !binary) {
        *pos = at + 1;
        return put_nil(c);
    }
    uint64_t n = 0;
    size_t w = 0;
    int st = mw_read_lenenc(buf, end, at, &n, &w);
    if (st == MW_E_BAD_PREFIX)
        return fail(c, MW_E_ROW_BAD_PREFIX, col, at, first, 0);
    if (st != 0)
        return fail(c, MW_E_ROW_TRUNCATED, col, at, end - at, first == 0xFC ? 3 : first == 0xFD ? 4 : 9);
    size_t left = end - at - w;
    if (n > left)
        return fail(c, MW_E_ROW_TRUNCATED_BODY, col, at, n, left);
    *pos = at + w + (size_t)n;
    return text_value(c, kind, buf + at + w, (size_t)n, col, at + w);
}

/* ------------------------------------------------------------------ binary temporals */

/* Decimal digits of v, at least min_digits (zero-padded), written at t; returns count. */
static size_t put_digits(char *t, uint64_t v, int min_digits)
{
    char rev[24];
    int k = 0;
    do {
        rev[k++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    while (k < min_digits)
        rev[k++] = '0';
    for (int j = 0; j < k; j++)
        t[j] = rev[k - 1 - j];
    return (size_t)k;
}

/* Fractional seconds per the rule in mywire/_rowspec.py (_frac). */
static size_t put_frac(char *t, uint64_t us, unsigned decimals)
{
    if (us >= 1000000) {
        t[0] = '.';
        return 1 + put_digits(t + 1, us, 1);
    }
    if (decimals >= 1 && decimals <= 6) {
        uint64_t div = 1;
        for (unsigned k = decimals; k < 6; k++)
            div *= 10;
        t[0] = '.';
        put_digits(t + 1, us, 6);
        return us % div == 0 ? 1 + decimals : 7;
    }
    if (us == 0)
        return 0;
    t[0] = '.';
    return 1 + put_digits(t + 1, us, 6);
}

static int binary_temporal(ctx_t *c, const uint8_t *buf, size_t *pos, size_t end, int kind,
                           unsigned decimals, int32_t col)
{
    size_t at = *pos;
    if (at >= end)
        return fail(c, MW_E_ROW_TRUNCATED, col, at, 0, 1);
    uint8_t length = buf[at];
    int ok = kind == MW_K_TIME ? (length == 0 || length == 8 || length == 12)
                               : (length == 0 || length == 4 || length == 7 || length == 11);
    if (!ok)
        return fail(c, MW_E_ROW_TEMPORAL, col, at, length, 0);
    if (end - at < (size_t)length + 1)
        return fail(c, MW_E_ROW_TRUNCATED, col, at, end - at, (uint64_t)length + 1);
    const uint8_t *p = buf + at + 1;
    *pos = at + 1 + length;

    char t[64]; /* longest: "-" 12 hour digits ":255:255." 10 digits = 33 */
    size_t k = 0;
    if (kind == MW_K_TIME) {
        uint64_t hours = 0, minute = 0, second = 0, us = 0;
        if (length >= 8) {
            if (p[0])
                t[k++] = '-';
            hours = mw_le(p + 1, 4) * 24 + p[5];
            minute = p[6];
            second = p[7];
        }
        if (length == 12)
            us = mw_le(p + 8, 4);
        k += put_digits(t + k, hours, 2);
        t[k++] = ':';
        k += put_digits(t + k, minute, 2);
        t[k++] = ':';
        k += put_digits(t + k, second, 2);
        k += put_frac(t + k, us, decimals);
    } else {
        uint64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, us = 0;
        if (length >= 4) {
            year = mw_le(p, 2);
            month = p[2];
            day = p[3];
        }
        if (length >= 7) {
            hour = p[4];
            minute = p[5];
            second = p[6];
        }
        if (length == 11)
            us = mw_le(p + 7, 4);
        k += put_digits(t + k, year, 4);
        t[k++] = '-';
        k += put_digits(t + k, month, 2);
        t[k++] = '-';
        k += put_digits(t + k, day, 2);
        if (kind == MW_K_DATETIME) {
            t[k++] = ' ';
            k += put_digits(t + k, hour, 2);
            t[k++] = ':';
            k += put_digits(t + k, minute, 2);
            t[k++] = ':';
            k += put_digits(t + k, second, 2);
            k += put_frac(t + k, us, decimals);
        }
    }
    return put_bytes(c, 1, (const uint8_t *)t, k, col, at);
}

/* ------------------------------------------------------------------ rows */

static int text_row(ctx_t *c, const mw_column *cols, size_t ncols, const uint8_t *buf,
                    size_t pos, size_t end)
{
    for (size_t i = 0; i < ncols; i++) {
        int st = lenenc_value(c, buf, &pos, end, cols[i].kind, (int32_t)i, 0);
        if (st != MW_OK)
            return st;
    }
    if (pos != end)
        return fail(c, MW_E_ROW_TRAILING, -3, pos, end - pos, 0);
    return MW_OK;
}

static int binary_row(ctx_t *c, const mw_column *cols, size_t ncols, const uint8_t *buf,
                      size_t pos, size_t end)
{
    if (pos >= end)
        return fail(c, MW_E_ROW_TRUNCATED, -1, pos, 0, 1);
    if (buf[pos] != 0x00)
        return fail(c, MW_E_ROW_HEADER, -1, pos, buf[pos], 0);
    pos++;
    size_t nbitmap = (ncols + 9) / 8;
    if (end - pos < nbitmap)
        return fail(c, MW_E_ROW_TRUNCATED, -2, pos, end - pos, nbitmap);
    const uint8_t *bitmap = buf + pos;
    pos += nbitmap;
    for (size_t i = 0; i < ncols; i++) {
        int32_t col = (int32_t)i;
        int kind = cols[i].kind;
        size_t bit = i + 2;
        int st;
        if ((bitmap[bit >> 3] >> (bit & 7)) & 1 || kind == MW_K_NULL) {
            st = put_nil(c);
        } else if (kind == MW_K_SINT || kind == MW_K_UINT) {
            size_t w = cols[i].width;
            if (end - pos < w)
                return fail(c, MW_E_ROW_TRUNCATED, col, pos, end - pos, w);
            uint64_t v = mw_le(buf + pos, (int)w);
            pos += w;
            if (kind == MW_K_UINT || w == 0) {
                st = put_uint(c, v);
            } else {
                uint64_t sign = UINT64_C(1) << (8 * w - 1);
                int64_t s = (v & sign) ? (int64_t)(v | ~(sign * 2 - 1)) : (int64_t)v;
                if (w == 8)
                    s = (int64_t)v;
                st = put_int(c, s);
            }
        } else if (kind == MW_K_FLOAT) {
            if (end - pos < 4)
                return fail(c, MW_E_ROW_TRUNCATED, col, pos, end - pos, 4);
            uint32_t bits = (uint32_t)mw_le(buf + pos, 4);
            float f;
            memcpy(&f, &bits, sizeof f);
            pos += 4;
            st = put_double(c, (double)f);
        } else if (kind == MW_K_DOUBLE) {
            if (end - pos < 8)
                return fail(c, MW_E_ROW_TRUNCATED, col, pos, end - pos, 8);
            uint64_t bits = mw_le(buf + pos, 8);
            double d;
            memcpy(&d, &bits, sizeof d);
            pos += 8;
            st = put_double(c, d);
        } else if (kind == MW_K_DATE || kind == MW_K_DATETIME || kind == MW_K_TIME) {
            st = binary_temporal(c, buf, &pos, end, kind, cols[i].decimals, col);
        } else {
            st = lenenc_value(c, buf, &pos, end, kind, col, 1);
        }
        if (st != MW_OK)
            return st;
    }
    if (pos != end)
        return fail(c, MW_E_ROW_TRAILING, -3, pos, end - pos, 0);
    return MW_OK;
}

int mw_decode_rows(const mw_column *cols, size_t ncols, int32_t binary,
                   const uint8_t *buf, size_t len, const uint64_t *spans,
                   size_t first, size_t nrows, uint8_t *out, size_t outlen,
                   mw_rows_result *res)
{
    memset(res, 0, sizeof *res);
    res->column = -3;
    ctx_t c = {out, outlen, OUTER_RESERVE, res};
    for (size_t r = first; r < nrows; r++) {
        uint64_t start = spans[2 * r], n = spans[2 * r + 1];
        if (start > len || n > len - start) {
            res->row = r;
            fail(&c, MW_E_ROW_SPAN, -3, (size_t)start, n, len);
            return MW_E_ROW_SPAN;
        }
    }
    if (ncols > MAX_MSGPACK_LEN)
        return fail(&c, MW_E_ARGUMENT, -3, 0, ncols, 0);
    if (outlen < OUTER_RESERVE) {
        res->status = MW_ROWS_FULL;
        return MW_ROWS_FULL;
    }
    size_t last = nrows;
    if (last > first && last - first > MAX_MSGPACK_LEN)
        last = first + MAX_MSGPACK_LEN;
    size_t rowhdr = mw_mp_array_header_size(ncols);
    int status = last == nrows ? MW_OK : MW_ROWS_FULL;
    uint64_t done = 0;
    for (size_t r = first; r < last; r++) {
        size_t save = c.o;
        if (c.cap - c.o < rowhdr) {
            status = MW_ROWS_FULL;
            break;
        }
        c.o += mw_mp_array_header(out + c.o, ncols);
        size_t pos = (size_t)spans[2 * r];
        size_t end = pos + (size_t)spans[2 * r + 1];
        int st = binary ? binary_row(&c, cols, ncols, buf, pos, end)
                        : text_row(&c, cols, ncols, buf, pos, end);
        if (st == MW_ROWS_FULL) {
            c.o = save;
            status = MW_ROWS_FULL;
            break;
        }
        if (st != MW_OK) {
            res->row = r;
            return st;
        }
        done++;
    }
    size_t h = mw_mp_array_header_size(done);
    res->start = OUTER_RESERVE - h;
    mw_mp_array_header(out + res->start, done);
    res->end = c.o;
    res->rows = done;
    res->status = status;
    res->column = 0;
    return status;
}
