/* msgpack writers with the smallest-header rules of msgpack.packb (use_bin_type=True,
 * float64 for every float).
 *
 * Each writer stores one value or header at p and returns the bytes written; the caller
 * has checked that MW_MP_MAX_HEADER bytes (plus any payload it copies) fit.  Nothing
 * here reads input or keeps state. */
#ifndef MW_MSGPACK_H
#define MW_MSGPACK_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The longest header or scalar any writer below produces (0xcf/0xd3/0xcb + 8 bytes). */
#define MW_MP_MAX_HEADER 9

static inline void mw_mp_be(uint8_t *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xFF);
        v >>= 8;
    }
}

static inline size_t mw_mp_nil(uint8_t *p)
{
    p[0] = 0xc0;
    return 1;
}

/* Non-negative integer: positive fixint, uint8, uint16, uint32, uint64. */
static inline size_t mw_mp_uint(uint8_t *p, uint64_t v)
{
    if (v < 0x80) {
        p[0] = (uint8_t)v;
        return 1;
    }
    if (v <= 0xFF) {
        p[0] = 0xcc;
        p[1] = (uint8_t)v;
        return 2;
    }
    if (v <= 0xFFFF) {
        p[0] = 0xcd;
        mw_mp_be(p + 1, v, 2);
        return 3;
    }
    if (v <= 0xFFFFFFFFu) {
        p[0] = 0xce;
        mw_mp_be(p + 1, v, 4);
        return 5;
    }
    p[0] = 0xcf;
    mw_mp_be(p + 1, v, 8);
    return 9;
}

/* Any signed integer: non-negative values as mw_mp_uint (as packb does), negative ones
 * as negative fixint, int8, int16, int32, int64. */
static inline size_t mw_mp_int(uint8_t *p, int64_t v)
{
    if (v >= 0)
        return mw_mp_uint(p, (uint64_t)v);
    if (v >= -32) {
        p[0] = (uint8_t)(v & 0xFF);
        return 1;
    }
    if (v >= INT8_MIN) {
        p[0] = 0xd0;
        p[1] = (uint8_t)(v & 0xFF);
        return 2;
    }
    if (v >= INT16_MIN) {
        p[0] = 0xd1;
        mw_mp_be(p + 1, (uint64_t)v, 2);
        return 3;
    }
    if (v >= INT32_MIN) {
        p[0] = 0xd2;
        mw_mp_be(p + 1, (uint64_t)v, 4);
        return 5;
    }
    p[0] = 0xd3;
    mw_mp_be(p + 1, (uint64_t)v, 8);
    return 9;
}

/* float 64 (0xcb), the IEEE bits big-endian. */
static inline size_t mw_mp_double(uint8_t *p, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    p[0] = 0xcb;
    mw_mp_be(p + 1, bits, 8);
    return 9;
}

/* str header: fixstr, str8, str16, str32 (n < 2^32, checked by the caller). */
static inline size_t mw_mp_str_header(uint8_t *p, uint64_t n)
{
    if (n < 32) {
        p[0] = (uint8_t)(0xa0 | n);
        return 1;
    }
    if (n <= 0xFF) {
        p[0] = 0xd9;
        p[1] = (uint8_t)n;
        return 2;
    }
    if (n <= 0xFFFF) {
        p[0] = 0xda;
        mw_mp_be(p + 1, n, 2);
        return 3;
    }
    p[0] = 0xdb;
    mw_mp_be(p + 1, n, 4);
    return 5;
}

/* bin header: bin8, bin16, bin32 (n < 2^32, checked by the caller). */
static inline size_t mw_mp_bin_header(uint8_t *p, uint64_t n)
{
    if (n <= 0xFF) {
        p[0] = 0xc4;
        p[1] = (uint8_t)n;
        return 2;
    }
    if (n <= 0xFFFF) {
        p[0] = 0xc5;
        mw_mp_be(p + 1, n, 2);
        return 3;
    }
    p[0] = 0xc6;
    mw_mp_be(p + 1, n, 4);
    return 5;
}

static inline size_t mw_mp_array_header_size(uint64_t n)
{
    return n < 16 ? 1 : n <= 0xFFFF ? 3 : 5;
}

/* array header: fixarray, array16, array32 (n < 2^32, checked by the caller). */
static inline size_t mw_mp_array_header(uint8_t *p, uint64_t n)
{
    if (n < 16) {
        p[0] = (uint8_t)(0x90 | n);
        return 1;
    }
    if (n <= 0xFFFF) {
        p[0] = 0xdc;
        mw_mp_be(p + 1, n, 2);
        return 3;
    }
    p[0] = 0xdd;
    mw_mp_be(p + 1, n, 4);
    return 5;
}

#endif
