/* Shortest round-trip formatting of doubles and float32s, laid out like Python's repr.
 *
 * Digits: Schubfach (Raffaello Giulietti, "The Schubfach way to render doubles", 2020),
 * written from the paper.  For a finite positive v = c * 2^q the rounding interval R
 * (the reals that read back as v; endpoints included iff c is even) is scaled by 10^-k,
 * k chosen so that R is at least one unit of 10^k wide and less than ten.  Then the only
 * candidates are s = floor(v * 10^-k), s + 1, and the multiples of ten around s; the
 * shortest one inside R wins, and between s and s + 1 the one closer to v (ties to
 * even).  The scaled values are computed as g * cp / 2^127 with g a 126-bit
 * overestimate of 10^-k (csrc/mw_pow10.h, from tools/gen_pow10.py), rounded to odd,
 * which the paper shows keeps every comparison with an even integer exact.  float32
 * values run through the same code (their c and q are smaller).
 *
 * Layout (Python's float_repr_style 'short'): scientific when the decimal exponent of the
 * first digit is < -4 or >= 16 ("1e+16", "1.5e-05"), else fixed with at least one digit
 * after the point ("1.0", "0.0001"); "nan", "inf", "-inf", "-0.0".
 */
#include <string.h>

#include "mywire_api.h"
#include "mw_dtoa.h"
#include "mw_pow10.h"

#define MAX_TEXT 32 /* longest text of one value, with room to spare */
#define MASK63 0x7FFFFFFFFFFFFFFFu

/* (hi, lo) = a * b. */
static uint64_t mul64(uint64_t a, uint64_t b, uint64_t *hi)
{
#if defined(__SIZEOF_INT128__)
    unsigned __int128 p = (unsigned __int128)a * b;
    *hi = (uint64_t)(p >> 64);
    return (uint64_t)p;
#else
    uint64_t a0 = a & 0xFFFFFFFFu, a1 = a >> 32, b0 = b & 0xFFFFFFFFu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xFFFFFFFFu) + (p10 & 0xFFFFFFFFu);
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    return (mid << 32) | (p00 & 0xFFFFFFFFu);
#endif
}

/* floor(x / 2^MW_LOG_SHIFT) without shifting a negative number. */
static int floor_shift(int64_t x)
{
    if (x >= 0)
        return (int)(x >> MW_LOG_SHIFT);
    return -(int)((uint64_t)(-x + ((int64_t)1 << MW_LOG_SHIFT) - 1) >> MW_LOG_SHIFT);
}

/* floor(g * cp / 2^127), rounded to odd: or-ed with 1 when the dropped bits are not 0. */
static uint64_t rop(uint64_t g1, uint64_t g0, uint64_t cp)
{
    uint64_t x1, y1;
    (void)mul64(g0, cp, &x1);
    uint64_t y0 = mul64(g1, cp, &y1);
    uint64_t z = (y0 >> 1) + x1;
    uint64_t vbp = y1 + (z >> 63);
    return vbp | (((z & MASK63) + MASK63) >> 63);
}

/* The shortest decimal f * 10^e in the rounding interval of c * 2^q (c > 0); irregular
 * when c is the smallest significand of a binade above the first (the lower neighbour is
 * half as far). */
static void to_decimal(int q, uint64_t c, int irregular, uint64_t *f, int *e)
{
    uint64_t out = c & 1;
    uint64_t cb = c << 2;
    uint64_t cbr = cb + 2;
    uint64_t cbl;
    int k;
    if (!irregular) {
        cbl = cb - 2;
        k = floor_shift((int64_t)q * MW_LOG10_2_M);
    } else {
        cbl = cb - 1;
        k = floor_shift((int64_t)q * MW_LOG10_2_M - MW_LOG10_34_C);
    }
    int h = q + floor_shift((int64_t)(-k) * MW_LOG2_10_M) + 2;
    const uint64_t *g = MW_POW10_G[-k - MW_POW10_EMIN];
    uint64_t vb = rop(g[0], g[1], cb << h);
    uint64_t vbl = rop(g[0], g[1], cbl << h);
    uint64_t vbr = rop(g[0], g[1], cbr << h);
    uint64_t s = vb >> 2;
    if (s >= 10) {
        uint64_t sp10 = s / 10 * 10;
        uint64_t tp10 = sp10 + 10;
        int upin = vbl + out <= sp10 << 2;
        int wpin = (tp10 << 2) + out <= vbr;
        if (upin != wpin) {
            *f = upin ? sp10 : tp10;
            *e = k;
            return;
        }
    }
    uint64_t t = s + 1;
    int uin = vbl + out <= s << 2;
    int win = (t << 2) + out <= vbr;
    *e = k;
    if (uin != win) {
        *f = uin ? s : t;
        return;
    }
    uint64_t mid = (s + t) << 1;
    *f = (vb < mid || (vb == mid && (s & 1) == 0)) ? s : t;
}

static size_t put(uint8_t *p, const char *text)
{
    size_t n = strlen(text);
    memcpy(p, text, n);
    return n;
}

static const char PAIRS[] = "00010203040506070809101112131415161718192021222324"
                            "25262728293031323334353637383940414243444546474849"
                            "50515253545556575859606162636465666768697071727374"
                            "75767778798081828384858687888990919293949596979899";

static const uint64_t POW10_U64[20] = {
    1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u, 100000000u, 1000000000u,
    10000000000u, 100000000000u, 1000000000000u, 10000000000000u, 100000000000000u,
    1000000000000000u, 10000000000000000u, 100000000000000000u, 1000000000000000000u,
    10000000000000000000u,
};

/* The number of decimal digits of f > 0. */
static int decimal_length(uint64_t f)
{
#if defined(__GNUC__)
    /* bits * log10(2) (1233 / 4096) is the length or one less */
    int t = (64 - __builtin_clzll(f)) * 1233 >> 12;
    return t + (t < 20 && f >= POW10_U64[t]);
#else
    int n = 1;
    while (n < 20 && f >= POW10_U64[n])
        n++;
    return n;
#endif
}

/* The n decimal digits of f (n == decimal_length(f)) at t[0..n), written from the right
 * eight at a time: one 64-bit division per eight digits, the rest in 32 bits. */
static void put_decimal(uint8_t *t, uint64_t f, int n)
{
    uint8_t *q = t + n;
    while (f >= 100000000u) {
        uint32_t lo = (uint32_t)(f % 100000000u);
        f /= 100000000u;
        uint32_t hi4 = lo / 10000, lo4 = lo % 10000;
        q -= 8;
        memcpy(q, PAIRS + 2 * (hi4 / 100), 2);
        memcpy(q + 2, PAIRS + 2 * (hi4 % 100), 2);
        memcpy(q + 4, PAIRS + 2 * (lo4 / 100), 2);
        memcpy(q + 6, PAIRS + 2 * (lo4 % 100), 2);
    }
    uint32_t v = (uint32_t)f;
    while (v >= 100) {
        q -= 2;
        memcpy(q, PAIRS + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, PAIRS + 2 * v, 2);
    } else {
        *--q = (uint8_t)('0' + v);
    }
}

/* Lay out f * 10^e (f > 0) like repr; returns the bytes written to p.  The digits go
 * straight to their place (their count is known first), so nothing is copied twice. */
size_t mw_dtoa_layout(uint8_t *p, int negative, uint64_t f, int e)
{
    size_t o = 0;
    while (f % 100 == 0) {
        f /= 100;
        e += 2;
    }
    if (f % 10 == 0) {
        f /= 10;
        e++;
    }
    int n = decimal_length(f);
    int decpt = e + n; /* the value is 0.d1d2...dn * 10^decpt */
    if (negative)
        p[o++] = '-';
    if (decpt - 1 < -4 || decpt - 1 >= 16) {
        int x = decpt - 1;
        /* d1 '.' d2...dn: the digits one place right, then d1 moved back over the gap */
        put_decimal(p + o + 1, f, n);
        p[o] = p[o + 1];
        if (n > 1) {
            p[o + 1] = '.';
            o += (size_t)n + 1;
        } else {
            o++;
        }
        p[o++] = 'e';
        p[o++] = x < 0 ? '-' : '+';
        if (x < 0)
            x = -x;
        if (x >= 100)
            p[o++] = (uint8_t)('0' + x / 100);
        p[o++] = (uint8_t)('0' + x / 10 % 10);
        p[o++] = (uint8_t)('0' + x % 10);
    } else if (decpt <= 0) {
        p[o++] = '0';
        p[o++] = '.';
        for (int i = 0; i < -decpt; i++)
            p[o++] = '0';
        put_decimal(p + o, f, n);
        o += (size_t)n;
    } else if (decpt < n) {
        /* the integer digits one place right, moved back to make room for the point */
        put_decimal(p + o + 1, f, n);
        for (int i = 0; i < decpt; i++)
            p[o + (size_t)i] = p[o + (size_t)i + 1];
        p[o + (size_t)decpt] = '.';
        o += (size_t)n + 1;
    } else {
        put_decimal(p + o, f, n);
        o += (size_t)n;
        for (int i = n; i < decpt; i++)
            p[o++] = '0';
        p[o++] = '.';
        p[o++] = '0';
    }
    return o;
}

/* Format one IEEE value given its fields: mbits significand bits, the exponent bias and
 * the all-ones exponent. */
static size_t format_bits(uint8_t *p, int negative, uint64_t frac, int bexp, int mbits,
                          int bias, int emax)
{
    if (bexp == emax) {
        if (frac != 0)
            return put(p, "nan");
        return put(p, negative ? "-inf" : "inf");
    }
    if (bexp == 0 && frac == 0)
        return put(p, negative ? "-0.0" : "0.0");
    uint64_t c;
    int q;
    int irregular = 0;
    if (bexp == 0) {
        c = frac;
        q = 1 - bias - mbits;
    } else {
        c = frac | ((uint64_t)1 << mbits);
        q = bexp - bias - mbits;
        irregular = frac == 0 && bexp > 1;
    }
    uint64_t f;
    int e;
    to_decimal(q, c, irregular, &f, &e);
    return mw_dtoa_layout(p, negative, f, e);
}

size_t mw_dtoa_double(uint8_t *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return format_bits(p, (int)(bits >> 63), bits & 0xFFFFFFFFFFFFFu, (int)(bits >> 52 & 0x7FF),
                       52, 1023, 0x7FF);
}

size_t mw_dtoa_float(uint8_t *p, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return format_bits(p, (int)(bits >> 31), bits & 0x7FFFFFu, (int)(bits >> 23 & 0xFF), 23,
                       127, 0xFF);
}

int64_t mw_format_doubles(const double *values, size_t n, uint8_t *out, size_t outcap,
                          uint32_t *ends)
{
    uint8_t text[MAX_TEXT];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = mw_dtoa_double(text, values[i]);
        if (outcap - o < len || o + len > 0xFFFFFFFFu)
            return -1;
        memcpy(out + o, text, len);
        o += len;
        ends[i] = (uint32_t)o;
    }
    return (int64_t)o;
}

int64_t mw_format_floats32(const float *values, size_t n, uint8_t *out, size_t outcap,
                           uint32_t *ends)
{
    uint8_t text[MAX_TEXT];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = mw_dtoa_float(text, values[i]);
        if (outcap - o < len || o + len > 0xFFFFFFFFu)
            return -1;
        memcpy(out + o, text, len);
        o += len;
        ends[i] = (uint32_t)o;
    }
    return (int64_t)o;
}
