/* Value grammars and formatters shared by the row decoder (mw_rows.c) and the
 * transcoder (mw_transcode.c): text-row checks, exact decimal-to-double parsing, and
 * MySQL's text form of binary temporals.  Header-only (static inline), no state. */
#ifndef MW_VALUES_H
#define MW_VALUES_H
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mywire_api.h"
#include "mw_reader.h"

#define MW_MAX_FLOAT_TEXT 400 /* _rowspec.MAX_FLOAT_TEXT */
#define MW_MAX_BIT_BYTES 8

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define MW_EXACT_DOUBLE_OPS 1
#else
#define MW_EXACT_DOUBLE_OPS 0 /* x87 extended precision: always let strtod round */
#endif

static inline int is_digit(uint8_t ch)
{
    return ch >= '0' && ch <= '9';
}

/* ------------------------------------------------------------------ text grammars */

/* The eight bytes at p are ASCII digits. */
static inline int mw_digits8(const uint8_t *p)
{
    const uint64_t lo = UINT64_C(0x0101010101010101);
    uint64_t w;
    memcpy(&w, p, 8);
    /* every byte 0x30..0x3F, and still below 0x40 after adding 6: 0x30..0x39 (once the
     * first test holds no byte carries into the next) */
    return (w & (lo * 0xF0)) == lo * 0x30 && ((w + lo * 0x06) & (lo * 0xF0)) == lo * 0x30;
}

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MW_SWAR_DIGITS 1
/* The high bit of every byte of the eight at p that is not an ASCII digit; the lowest
 * one is exact (a carry out of a non-digit can only disturb the bytes above it). */
static inline uint64_t mw_nondigit8(const uint8_t *p)
{
    const uint64_t lo = UINT64_C(0x0101010101010101);
    uint64_t w;
    memcpy(&w, p, 8);
    uint64_t x = ((w & (lo * 0xF0)) ^ (lo * 0x30)) |
                 (((w + lo * 0x06) & (lo * 0xF0)) ^ (lo * 0x30));
    return (((x & (lo * 0x7F)) + lo * 0x7F) | x) & (lo * 0x80);
}

/* The value of eight ASCII digits at p (the first one most significant): pairs, then
 * quadruples, then the whole, each lane small enough never to carry into the next. */
static inline uint64_t mw_parse8(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    w -= UINT64_C(0x3030303030303030);
    w = (w * 10 + (w >> 8)) & UINT64_C(0x00FF00FF00FF00FF);
    w = (w * 100 + (w >> 16)) & UINT64_C(0x0000FFFF0000FFFF);
    return (w * 10000 + (w >> 32)) & UINT64_C(0xFFFFFFFF);
}
#else
#define MW_SWAR_DIGITS 0
#endif

/* How many ASCII digits p[i..n) starts with. */
static inline size_t count_digits(const uint8_t *p, size_t n, size_t i)
{
    size_t k = i;
#if MW_SWAR_DIGITS
    while (k < n && n - k >= 8) {
        uint64_t m = mw_nondigit8(p + k);
        if (m)
            return k + ((size_t)__builtin_ctzll(m) >> 3) - i;
        k += 8;
    }
#endif
    while (k < n && is_digit(p[k]))
        k++;
    return k - i;
}

static inline int two_digits(const uint8_t *p, size_t i)
{
    return is_digit(p[i]) && is_digit(p[i + 1]);
}

/* Nothing, or '.' and 1..6 digits, from p[i] to the end. */
static inline int valid_frac(const uint8_t *p, size_t n, size_t i)
{
    if (i == n)
        return 1;
    if (p[i] != '.')
        return 0;
    size_t d = count_digits(p, n, i + 1);
    return d >= 1 && d <= 6 && i + 1 + d == n;
}

/* YYYY-MM-DD at the start (n >= 10 checked here). */
static inline int valid_date_part(const uint8_t *p, size_t n)
{
    return n >= 10 && count_digits(p, 4, 0) == 4 && p[4] == '-' && two_digits(p, 5) &&
           p[7] == '-' && two_digits(p, 8);
}

/* hh:mm:ss at p[i] (n - i >= 8 checked here). */
static inline int valid_clock(const uint8_t *p, size_t n, size_t i)
{
    return n - i >= 8 && two_digits(p, i) && p[i + 2] == ':' && two_digits(p, i + 3) &&
           p[i + 5] == ':' && two_digits(p, i + 6);
}

static inline int valid_text(int kind, const uint8_t *p, size_t n)
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

static const double MW_POW10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

#if defined(__SIZEOF_INT128__)
typedef unsigned __int128 mw_u128;

static inline int mw_bitlen128(mw_u128 x)
{
    uint64_t hi = (uint64_t)(x >> 64);
    if (hi)
        return 128 - __builtin_clzll(hi);
    uint64_t lo = (uint64_t)x;
    return lo ? 64 - __builtin_clzll(lo) : 0;
}

/* x (> 0) times 2^scale, rounded to the nearest double (ties to even); sticky says
 * non-zero bits were already dropped below x (they break ties upwards). */
static inline double mw_round128(mw_u128 x, int scale, int sticky)
{
    int b = mw_bitlen128(x);
    if (b <= 53)
        return ldexp((double)(uint64_t)x, scale);
    int shift = b - 53;
    uint64_t q = (uint64_t)(x >> shift);
    mw_u128 rem = x & (((mw_u128)1 << shift) - 1);
    mw_u128 half = (mw_u128)1 << (shift - 1);
    if (rem > half || (rem == half && (sticky || (q & 1))))
        q++;
    return ldexp((double)q, shift + scale); /* q may be 2^53: still exact */
}

/* 5^k for k <= 27 (10^k = 5^k * 2^k; 5^27 < 2^63). */
static const uint64_t MW_POW5[28] = {
    1u, 5u, 25u, 125u, 625u, 3125u, 15625u, 78125u, 390625u, 1953125u, 9765625u,
    48828125u, 244140625u, 1220703125u, 6103515625u, 30517578125u, 152587890625u,
    762939453125u, 3814697265625u, 19073486328125u, 95367431640625u, 476837158203125u,
    2384185791015625u, 11920928955078125u, 59604644775390625u, 298023223876953125u,
    1490116119384765625u, 7450580596923828125u,
};

/* (hi:lo) / d for hi < d (the quotient fits in 64 bits), remainder in *r. */
static inline uint64_t mw_div128(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *r)
{
#if defined(__x86_64__) && defined(__GNUC__)
    uint64_t q, rem;
    __asm__("divq %4" : "=a"(q), "=d"(rem) : "a"(lo), "d"(hi), "r"(d));
    *r = rem;
    return q;
#else
    mw_u128 n = ((mw_u128)hi << 64) | lo;
    *r = (uint64_t)(n % d);
    return (uint64_t)(n / d);
#endif
}

/* m * 10^e10 correctly rounded, for 0 < m < 2^64 and -27 <= e10 <= 19: a product is
 * exact in 128 bits (10^19 < 2^64); a quotient m / 10^k = (m * 2^s / 5^k) * 2^-(s+k) is
 * taken with s chosen so that it has 63 or 64 bits (one hardware division; m * 2^s stays
 * below 2^127 as 5^27 < 2^63), the remainder as a sticky bit.
 * (Clinger's fast path covers m <= 2^53 and |e10| <= 22 before this; the rest goes to
 * strtod.) */
static inline double mw_exact_scale(uint64_t m, int e10)
{
    if (e10 >= 0) {
        uint64_t p10 = MW_POW5[e10] << e10; /* 10^19 < 2^64 */
        return mw_round128((mw_u128)m * p10, 0, 0);
    }
    int k = -e10;
    uint64_t d = MW_POW5[k];
    int bd = 64 - __builtin_clzll(d), bm = 64 - __builtin_clzll(m);
    int s = 63 + bd - bm;
    mw_u128 n = (mw_u128)m << s;
    uint64_t r;
    uint64_t q = mw_div128((uint64_t)(n >> 64), (uint64_t)n, d, &r);
    return mw_round128(q, -(s + k), r != 0);
}
#endif

/* -?[0-9]+(.[0-9]+)?([eE][-+]?[0-9]+)? read as m * 10^e10 with m its first 19
 * significant digits (nd of them, m == 0 when every digit is 0); exact is 0 when a
 * non-zero digit was dropped after those. */
typedef struct {
    uint64_t m;
    int64_t e10;
    int nd;
    int neg;
    int exact;
} mw_decimal;

/* Returns 0 when p[0..n) does not match the grammar or is too long. */
static inline int mw_scan_decimal(const uint8_t *p, size_t n, mw_decimal *out)
{
    if (n > MW_MAX_FLOAT_TEXT)
        return 0;
    size_t i = 0;
    int neg = 0;
    if (i < n && p[i] == '-') {
        neg = 1;
        i++;
    }
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
        for (;;) {
#if MW_SWAR_DIGITS
            /* past the leading zeros, eight digits at once while all of them are kept:
             * the same as eight turns of the loop below */
            if (m && nd <= 11 && n - i >= 8 && mw_digits8(p + i)) {
                m = m * 100000000u + mw_parse8(p + i);
                nd += 8;
                e10 -= 8;
                i += 8;
                continue;
            }
#endif
            if (i >= n || !is_digit(p[i]))
                break;
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
            i++;
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
    out->m = m;
    out->e10 = e10;
    out->nd = nd;
    out->neg = neg;
    out->exact = exact;
    return 1;
}

/* m * 10^e10 (0 < m, exact digits) rounded to nearest when one IEEE operation does it
 * exactly (Clinger's fast path) or 128-bit integers do: 1 with *out set, else 0. */
static inline int mw_scale_pow10(uint64_t m, int64_t e10, double *out)
{
    if (MW_EXACT_DOUBLE_OPS && m <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
        double v = (double)m;
        if (e10 > 0)
            v *= MW_POW10[e10];
        else if (e10 < 0)
            v /= MW_POW10[-e10];
        *out = v;
        return 1;
    }
#if defined(__SIZEOF_INT128__)
    if (e10 >= -27 && e10 <= 19) {
        *out = mw_exact_scale(m, (int)e10);
        return 1;
    }
#endif
    return 0;
}

/* The value of p[0..n) (mw_scan_decimal's grammar, already scanned into dec) rounded to
 * nearest like Python's float(): mw_scale_pow10, else the C library's strtod (correctly
 * rounded on glibc) on a bounded stack copy, with '.' swapped for the locale's decimal
 * point. */
static inline double mw_decimal_value(const uint8_t *p, size_t n, const mw_decimal *dec)
{
    double v;
    if (dec->m == 0) {
        v = 0.0;
    } else if (!dec->exact || !mw_scale_pow10(dec->m, dec->e10, &v)) {
        char tmp[MW_MAX_FLOAT_TEXT + 16];
        const struct lconv *lc = localeconv();
        const char *point = lc && lc->decimal_point && lc->decimal_point[0] ? lc->decimal_point : ".";
        size_t plen = strlen(point);
        if (plen > 8) {
            point = ".";
            plen = 1;
        }
        size_t k = 0;
        for (size_t j = (size_t)dec->neg; j < n; j++) {
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
    return dec->neg ? -v : v;
}

/* The value of -?[0-9]+(.[0-9]+)?([eE][-+]?[0-9]+)? rounded to nearest like Python's
 * float() (mw_decimal_value).  Returns 0 when the text does not match the grammar or is
 * too long. */
static inline int parse_double(const uint8_t *p, size_t n, double *out)
{
    mw_decimal dec;
    if (!mw_scan_decimal(p, n, &dec))
        return 0;
    *out = mw_decimal_value(p, n, &dec);
    return 1;
}

/* ------------------------------------------------------------------ binary temporals */

static const char MW_DIGIT_PAIRS[] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

/* Decimal digits of v, at least min_digits (zero-padded), written at t; returns count. */
static inline size_t put_digits(char *t, uint64_t v, int min_digits)
{
    char rev[24];
    int k = 24;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        rev[--k] = MW_DIGIT_PAIRS[2 * r + 1];
        rev[--k] = MW_DIGIT_PAIRS[2 * r];
    }
    if (v >= 10) {
        rev[--k] = MW_DIGIT_PAIRS[2 * v + 1];
        rev[--k] = MW_DIGIT_PAIRS[2 * v];
    } else {
        rev[--k] = (char)('0' + v);
    }
    while (24 - k < min_digits)
        rev[--k] = '0';
    memcpy(t, rev + k, (size_t)(24 - k));
    return (size_t)(24 - k);
}

/* put_digits(t, v, 2), with the usual case (v < 100: one table copy) first. */
static inline size_t put_digits2(char *t, uint64_t v)
{
    if (v >= 100)
        return put_digits(t, v, 2);
    memcpy(t, MW_DIGIT_PAIRS + 2 * v, 2);
    return 2;
}

/* put_digits(t, v, 6) for v < 10^6. */
static inline void put_digits6(char *t, uint32_t v)
{
    memcpy(t, MW_DIGIT_PAIRS + 2 * (v / 10000), 2);
    memcpy(t + 2, MW_DIGIT_PAIRS + 2 * (v / 100 % 100), 2);
    memcpy(t + 4, MW_DIGIT_PAIRS + 2 * (v % 100), 2);
}

/* Fractional seconds per the rule in mywire/_rowspec.py (_frac). */
static inline size_t put_frac(char *t, uint64_t us, unsigned decimals)
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
        put_digits6(t + 1, (uint32_t)us);
        return us % div == 0 ? 1 + decimals : 7;
    }
    if (us == 0)
        return 0;
    t[0] = '.';
    put_digits6(t + 1, (uint32_t)us);
    return 7;
}

/* MySQL's text form of a binary DATE/DATETIME/TIME value p[0..length) (length already
 * checked to be one the kind allows) into t (64 bytes); returns its length. */
static inline size_t mw_format_temporal(char *t, const uint8_t *p, uint8_t length, int kind,
                                        unsigned decimals)
{
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
        k += put_digits2(t + k, hours);
        t[k++] = ':';
        k += put_digits2(t + k, minute);
        t[k++] = ':';
        k += put_digits2(t + k, second);
        k += put_frac(t + k, us, decimals);
        return k;
    }
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
    if (year < 10000) {
        memcpy(t, MW_DIGIT_PAIRS + 2 * (year / 100), 2);
        memcpy(t + 2, MW_DIGIT_PAIRS + 2 * (year % 100), 2);
        k = 4;
    } else {
        k = put_digits(t, year, 4);
    }
    t[k++] = '-';
    k += put_digits2(t + k, month);
    t[k++] = '-';
    k += put_digits2(t + k, day);
    if (kind == MW_K_DATETIME) {
        t[k++] = ' ';
        k += put_digits2(t + k, hour);
        t[k++] = ':';
        k += put_digits2(t + k, minute);
        t[k++] = ':';
        k += put_digits2(t + k, second);
        k += put_frac(t + k, us, decimals);
    }
    return k;
}

/* A binary temporal's length byte is one its kind allows. */
static inline int mw_temporal_length_ok(int kind, uint8_t length)
{
    return kind == MW_K_TIME ? (length == 0 || length == 8 || length == 12)
                             : (length == 0 || length == 4 || length == 7 || length == 11);
}

#endif
