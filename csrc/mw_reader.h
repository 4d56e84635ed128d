/* Bounds-checked little-endian reads over a {ptr, len} buffer.
 *
 * Every function takes the position by pointer and checks the bytes are there before
 * reading; none can read past len.  Row decoders and the framer share these. */
#ifndef MW_READER_H
#define MW_READER_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t mw_le(const uint8_t *p, int width)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* the common widths in one load each (the loop below costs a shift per byte) */
    if (width == 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        return x;
    }
    if (width == 4) {
        uint32_t x;
        memcpy(&x, p, 4);
        return x;
    }
    if (width == 2) {
        uint16_t x;
        memcpy(&x, p, 2);
        return x;
    }
#endif
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Length-encoded integer at buf[pos]: returns 0 and sets *value and *width, or returns the
 * MW_E_* status.  *prefix receives the first byte for error reports. */
static inline int mw_read_lenenc(const uint8_t *buf, size_t len, size_t pos,
                                 uint64_t *value, size_t *width)
{
    if (pos >= len)
        return 10; /* MW_E_TRUNCATED */
    uint8_t first = buf[pos];
    if (first < 0xFB) {
        *value = first;
        *width = 1;
        return 0;
    }
    if (first == 0xFB || first == 0xFF)
        return 13; /* MW_E_BAD_PREFIX: the caller decides whether 0xFB means NULL */
    size_t w = first == 0xFC ? 3 : first == 0xFD ? 4 : 9;
    if (len - pos < w)
        return 10;
    *value = mw_le(buf + pos + 1, (int)(w - 1));
    *width = w;
    return 0;
}

#endif
