/* Coverage forwarding shim for atheris under gcc's ASan/UBSan (built by fuzz/run.sh).
 *
 * gcc's libasan and libubsan define the __sanitizer_cov_* and __sanitizer_weak_hook_*
 * entry points as weak no-op stubs.  They have to be preloaded, so their stubs win over
 * the real ones in atheris's bundled libFuzzer, and libFuzzer never sees the Python
 * coverage atheris reports ("cov:" stays empty, every seed looks uninteresting).  This
 * library is preloaded *before* libasan (ASAN_OPTIONS=verify_asan_link_order=0) and
 * forwards each of those calls to the definition inside the atheris module named by
 * ATHERIS_CORE (core_with_libfuzzer), looked up once with dlopen(RTLD_NOLOAD) + dlsym.
 * It defines nothing else (no allocator, no interceptors).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void *core(void) {
    static void *handle;
    if (!handle) {
        const char *path = getenv("ATHERIS_CORE");
        if (path) handle = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
    }
    return handle;
}

static void *real(const char *name) {
    void *h = core();
    return h ? dlsym(h, name) : NULL;
}

#define FWD(name, params, args)                                  \
    void name params {                                           \
        static void (*fn) params;                                \
        if (!fn) fn = (void (*) params)real(#name);              \
        if (fn) fn args;                                         \
    }

FWD(__sanitizer_cov_8bit_counters_init, (uint8_t *a, uint8_t *b), (a, b))
FWD(__sanitizer_cov_pcs_init, (const uintptr_t *a, const uintptr_t *b), (a, b))
FWD(__sanitizer_cov_trace_cmp1, (uint8_t a, uint8_t b), (a, b))
FWD(__sanitizer_cov_trace_cmp2, (uint16_t a, uint16_t b), (a, b))
FWD(__sanitizer_cov_trace_cmp4, (uint32_t a, uint32_t b), (a, b))
FWD(__sanitizer_cov_trace_cmp8, (uint64_t a, uint64_t b), (a, b))
FWD(__sanitizer_cov_trace_const_cmp1, (uint8_t a, uint8_t b), (a, b))
FWD(__sanitizer_cov_trace_const_cmp2, (uint16_t a, uint16_t b), (a, b))
FWD(__sanitizer_cov_trace_const_cmp4, (uint32_t a, uint32_t b), (a, b))
FWD(__sanitizer_cov_trace_const_cmp8, (uint64_t a, uint64_t b), (a, b))
FWD(__sanitizer_cov_trace_switch, (uint64_t a, uint64_t *b), (a, b))
FWD(__sanitizer_cov_trace_div4, (uint32_t a), (a))
FWD(__sanitizer_cov_trace_div8, (uint64_t a), (a))
FWD(__sanitizer_cov_trace_gep, (uintptr_t a), (a))
FWD(__sanitizer_weak_hook_memcmp,
    (void *pc, const void *a, const void *b, size_t n, int r), (pc, a, b, n, r))
FWD(__sanitizer_weak_hook_strncmp,
    (void *pc, const char *a, const char *b, size_t n, int r), (pc, a, b, n, r))
FWD(__sanitizer_weak_hook_strcmp, (void *pc, const char *a, const char *b, int r),
    (pc, a, b, r))
FWD(__sanitizer_weak_hook_strstr, (void *pc, const char *a, const char *b, char *r),
    (pc, a, b, r))
