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
#include <string.h>

#include "mywire_api.h"
#include "mw_msgpack.h"
#include "mw_reader.h"
#include "mw_values.h"

#define OUTER_RESERVE 5 /* the largest array header */
#define MAX_MSGPACK_LEN 0xFFFFFFFFu


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
        if (n > MW_MAX_BIT_BYTES)
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

static int binary_temporal(ctx_t *c, const uint8_t *buf, size_t *pos, size_t end, int kind,
                           unsigned decimals, int32_t col)
{
    size_t at = *pos;
    if (at >= end)
        return fail(c, MW_E_ROW_TRUNCATED, col, at, 0, 1);
    uint8_t length = buf[at];
    if (!mw_temporal_length_ok(kind, length))
        return fail(c, MW_E_ROW_TEMPORAL, col, at, length, 0);
    if (end - at < (size_t)length + 1)
        return fail(c, MW_E_ROW_TRUNCATED, col, at, end - at, (uint64_t)length + 1);
    *pos = at + 1 + length;
    char t[64]; /* longest: "-" 12 hour digits ":255:255." 10 digits = 33 */
    size_t k = mw_format_temporal(t, buf + at + 1, length, kind, decimals);
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
