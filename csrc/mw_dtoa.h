/* Shortest round-trip float formatting (mw_dtoa.c), for the other C files: not part of
 * the Python-visible API.  Each writes at most MW_DTOA_MAX bytes at p and returns the
 * count. */
#ifndef MW_DTOA_H
#define MW_DTOA_H
#include <stddef.h>
#include <stdint.h>

#define MW_DTOA_MAX 32

/* repr(v) for a double ("nan", "inf", "-0.0" included). */
size_t mw_dtoa_double(uint8_t *p, double v);
/* The shortest digits that read back as the float32 v, in repr's layout. */
size_t mw_dtoa_float(uint8_t *p, float v);
/* f * 10^e (f > 0, trailing zeros allowed) in repr's layout, with a '-' if negative. */
size_t mw_dtoa_layout(uint8_t *p, int negative, uint64_t f, int e);

#endif
