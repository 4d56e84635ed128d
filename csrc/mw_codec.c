/* Field codec: the C twin of _pycore.unpack_from / pack.  See mywire/_format.py for the
 * format language and mywire_api.h for the contract. */
#include <string.h>

#include "mywire_api.h"
#include "mw_reader.h"

static const int fixed_width[7] = {0, 1, 2, 3, 4, 6, 8};

static int fail(mw_error *err, int status, size_t offset, size_t item, uint64_t a, uint64_t b)
{
    err->offset = offset;
    err->item = item;
    err->a = a;
    err->b = b;
    return status;
}

int mw_unpack(const uint8_t *ops, const uint32_t *args, size_t nitems,
              const uint8_t *buf, size_t len, size_t offset,
              mw_value *out, size_t *end, mw_error *err)
{
    size_t pos = offset;
    if (offset > len)
        return fail(err, MW_E_ARGUMENT, offset, 0, 0, 0);
    for (size_t i = 0; i < nitems; i++) {
        uint8_t op = ops[i];
        size_t left = len - pos;
        mw_value *v = &out[i];
        if (op >= 1 && op <= 6) {
            size_t w = (size_t)fixed_width[op];
            if (left < w)
                return fail(err, MW_E_TRUNCATED, pos, i, left, 0);
            v->kind = 0;
            v->value = mw_le(buf + pos, (int)w);
            v->len = 0;
            pos += w;
        } else if (op >= 7 && op <= 10) {
            uint64_t value = 0;
            size_t w = 0;
            int st = mw_read_lenenc(buf, len, pos, &value, &w);
            if (st == MW_E_BAD_PREFIX && buf[pos] == 0xFB && (op == 8 || op == 10)) {
                v->kind = 2;
                v->value = 0;
                v->len = 0;
                pos += 1;
                continue;
            }
            if (st == MW_E_BAD_PREFIX)
                return fail(err, st, pos, i, buf[pos], 0);
            if (st != 0)
                return fail(err, st, pos, i, left, 0);
            if (op == 7 || op == 8) {
                v->kind = 0;
                v->value = value;
                v->len = 0;
                pos += w;
            } else {
                /* Compare against what is left, never add to value: it may be 2^64-1. */
                if (value > left - w)
                    return fail(err, MW_E_TRUNCATED_BODY, pos, i, value, left - w);
                v->kind = 1;
                v->value = pos + w;
                v->len = value;
                pos += w + (size_t)value;
            }
        } else if (op == 11) {
            const uint8_t *nul = left ? memchr(buf + pos, 0, left) : NULL;
            if (nul == NULL)
                return fail(err, MW_E_NO_NUL, pos, i, left, 0);
            v->kind = 1;
            v->value = pos;
            v->len = (uint64_t)(nul - (buf + pos));
            pos += (size_t)v->len + 1;
        } else if (op == 12) {
            v->kind = 1;
            v->value = pos;
            v->len = left;
            pos = len;
        } else if (op == 13 || op == 14) {
            size_t n = args[i];
            if (left < n)
                return fail(err, MW_E_TRUNCATED, pos, i, left, 0);
            v->kind = op == 13 ? 1 : 3;
            v->value = pos;
            v->len = n;
            pos += n;
        } else {
            return fail(err, MW_E_FORMAT, pos, i, op, 0);
        }
    }
    *end = pos;
    return MW_OK;
}

static size_t lenenc_width(uint64_t v)
{
    return v < 0xFB ? 1 : v < (1u << 16) ? 3 : v < (1u << 24) ? 4 : 9;
}

static size_t put_lenenc(uint8_t *p, uint64_t v)
{
    size_t w;
    if (v < 0xFB) {
        p[0] = (uint8_t)v;
        return 1;
    }
    if (v < (1u << 16)) {
        p[0] = 0xFC;
        w = 2;
    } else if (v < (1u << 24)) {
        p[0] = 0xFD;
        w = 3;
    } else {
        p[0] = 0xFE;
        w = 8;
    }
    for (size_t i = 0; i < w; i++)
        p[1 + i] = (uint8_t)(v >> (8 * i));
    return w + 1;
}

#define ROOM(n) do { if (outlen - pos < (size_t)(n)) return -1; } while (0)

int64_t mw_pack(const uint8_t *ops, const uint32_t *args, size_t nitems,
                const uint64_t *ints, const uint8_t *const *ptrs, const uint64_t *lens,
                const uint8_t *nulls, uint8_t *out, size_t outlen)
{
    size_t pos = 0;
    for (size_t i = 0; i < nitems; i++) {
        uint8_t op = ops[i];
        if (op >= 1 && op <= 6) {
            int w = fixed_width[op];
            ROOM(w);
            for (int k = 0; k < w; k++)
                out[pos + (size_t)k] = (uint8_t)(ints[i] >> (8 * k));
            pos += (size_t)w;
        } else if ((op == 8 || op == 10) && nulls[i]) {
            ROOM(1);
            out[pos++] = 0xFB;
        } else if (op == 7 || op == 8) {
            ROOM(lenenc_width(ints[i]));
            pos += put_lenenc(out + pos, ints[i]);
        } else if (op >= 9 && op <= 13) {
            if (op == 9 || op == 10) {
                ROOM(lenenc_width(lens[i]));
                pos += put_lenenc(out + pos, lens[i]);
            }
            ROOM(lens[i]);
            if (lens[i])
                memcpy(out + pos, ptrs[i], (size_t)lens[i]);
            pos += (size_t)lens[i];
            if (op == 11) {
                ROOM(1);
                out[pos++] = 0;
            }
        } else if (op == 14) {
            ROOM(args[i]);
            memset(out + pos, 0, args[i]);
            pos += args[i];
        } else {
            return -1;
        }
    }
    return (int64_t)pos;
}
