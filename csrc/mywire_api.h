/* mywire C core: the whole ABI visible to Python.
 *
 * This header is read twice: by the C compiler, and by cffi's cdef parser (csrc/build_ffi.py
 * strips the lines between the MW_CDEF_SKIP markers).  So it holds no macros in the cdef
 * part, only fixed-width types, structs and prototypes.
 *
 * Contract: bytes in, bytes and integer statuses out.  No function touches a Python object
 * (cffi releases the GIL around calls), keeps state between calls, or allocates.  The caller
 * owns every buffer and keeps it alive for the duration of the call.
 */
/* MW_CDEF_SKIP_BEGIN */
#ifndef MYWIRE_API_H
#define MYWIRE_API_H
#include <stddef.h>
#include <stdint.h>
/* MW_CDEF_SKIP_END */

/* Status codes shared by every function (mirrored in mywire/_ccore.py). */
enum {
    MW_OK = 0,
    MW_NEED_HEADER = 1,
    MW_NEED_BODY = 2,
    MW_ROW_STOP = 3,           /* rows mode: the next packet is not a plain row */
    MW_E_TRUNCATED = 10,       /* field at err.offset needs more bytes; err.a = bytes left */
    MW_E_TRUNCATED_BODY = 11,  /* lenenc string declares err.a bytes, err.b left after its length */
    MW_E_NO_NUL = 12,          /* NUL-terminated string without NUL; err.a = bytes left */
    MW_E_BAD_PREFIX = 13,      /* length prefix err.a (0xFB or 0xFF) not allowed here */
    MW_E_OUT_OF_SYNC = 14,     /* sequence id: expected err.a, got err.b */
    MW_E_TOO_LARGE = 15,       /* payload declares err.a bytes, more than the maximum */
    MW_E_FORMAT = 16,          /* invalid opcode in a compiled format */
    MW_E_ARGUMENT = 17         /* output buffer too small or offset outside the input */
};

/* Format opcodes (see mywire/_format.py): 1..6 fixed ints of 1,2,3,4,6,8 bytes, 7 L, 8 K,
 * 9 S, 10 R, 11 Z, 12 E, 13 fixed string of arg bytes, 14 skip arg bytes. */

typedef struct {
    uint64_t value;  /* integer value, or the string's start offset in the input */
    uint64_t len;    /* string length */
    int32_t kind;    /* 0 integer, 1 string, 2 NULL, 3 skipped */
} mw_value;

typedef struct {
    uint64_t offset; /* where the failing field or packet starts */
    uint64_t item;   /* index of the failing format item */
    uint64_t a;
    uint64_t b;
} mw_error;

/* Parse nitems fields described by ops/args from buf[offset..len).  Fills out[0..nitems)
 * and *end.  Returns MW_OK or an MW_E_* status with *err filled. */
int mw_unpack(const uint8_t *ops, const uint32_t *args, size_t nitems,
              const uint8_t *buf, size_t len, size_t offset,
              mw_value *out, size_t *end, mw_error *err);

/* Encode nitems fields.  For item i: ints[i] holds an integer value; ptrs[i]/lens[i] a
 * string; nulls[i] != 0 writes the NULL marker 0xFB.  Values must be validated by the
 * caller.  Writes at most outlen bytes; returns bytes written, or -1 if out is too small
 * or an opcode is invalid. */
int64_t mw_pack(const uint8_t *ops, const uint32_t *args, size_t nitems,
                const uint64_t *ints, const uint8_t *const *ptrs, const uint64_t *lens,
                const uint8_t *nulls, uint8_t *out, size_t outlen);

typedef struct {
    uint64_t end;      /* offset after the last complete packet */
    uint64_t count;    /* packets written to spans */
    uint64_t partial;  /* payload bytes in an unfinished run of 0xFFFFFF-byte packets */
    uint64_t need;     /* declared body length on MW_NEED_BODY */
    int32_t seq;       /* next expected sequence id (-1: not checked) */
    int32_t status;
    mw_error err;
} mw_scan_result;

/* Row modes for mw_scan_packets. */
enum {
    MW_ROWS_OFF = 0,
    MW_ROWS_EOF = 1,          /* rows end with a classic EOF (0xFE, shorter than 9 bytes) */
    MW_ROWS_DEPRECATE_EOF = 2 /* rows end with an OK whose header is 0xFE */
};

/* Walk complete physical packets in buf[start..len): check each header (sequence id
 * unless seq < 0, payload size against max_payload) before its body, and store
 * (body offset, body length) pairs into spans[0..2*max_count).  In a rows mode, stop
 * with MW_ROW_STOP before a packet that is not a plain single-packet row. */
int mw_scan_packets(const uint8_t *buf, size_t len, size_t start, int32_t seq,
                    uint64_t partial, uint64_t max_payload, int32_t rows,
                    uint64_t *spans, size_t max_count, mw_scan_result *res);

/* Split payload into packets with headers from sequence id seq into out, which must hold
 * len + 4 * (len / 0xFFFFFF + 1) bytes.  Returns the next sequence id, or -1 if out is
 * too small. */
int32_t mw_build_packets(const uint8_t *payload, size_t len, uint8_t seq,
                         uint8_t *out, size_t outlen);

/* ------------------------------------------------------------------ rows (mw_rows.c)
 * Decode resultset rows into one msgpack document; see mywire/rows.py for the type
 * mapping and mywire/_rowspec.py for the kinds, statuses and error texts. */

/* Column kinds (mirrored by the K_* constants of mywire/_rowspec.py). */
enum {
    MW_K_BYTES = 1,     /* length-encoded, written as bin */
    MW_K_UTF8 = 2,      /* length-encoded, written as str */
    MW_K_TEXT = 3,      /* length-encoded text in another charset, written as bin */
    MW_K_SINT = 4,      /* signed integer: text checked, binary of mw_column.width bytes */
    MW_K_UINT = 5,      /* unsigned integer */
    MW_K_FLOAT = 6,     /* text parsed, binary float32 widened */
    MW_K_DOUBLE = 7,
    MW_K_DECIMAL = 8,   /* length-encoded, checked, written as str */
    MW_K_DATE = 9,      /* text checked / binary formatted, written as str */
    MW_K_DATETIME = 10,
    MW_K_TIME = 11,
    MW_K_BIT = 12,      /* length-encoded, at most 8 bytes, big-endian unsigned */
    MW_K_NULL = 13,     /* the NULL type: no bytes in binary rows */
    MW_K_LATIN1 = 14,   /* transcoder only: MySQL latin1 text, converted to UTF-8 */
    MW_K_JSON = 15      /* transcoder only: a JSON document, checked and embedded */
};

/* Row statuses (mirrored by the E_* constants of mywire/_rowspec.py); a, b, column,
 * offset of mw_rows_result say more. */
enum {
    MW_ROWS_FULL = 20,           /* out is full: res.rows rows were written, call again */
    MW_E_ROW_TRUNCATED = 21,     /* a = bytes left from offset, b = bytes needed */
    MW_E_ROW_TRUNCATED_BODY = 22, /* a = declared length, b = bytes left after the prefix */
    MW_E_ROW_BAD_PREFIX = 23,    /* a = the prefix byte (0xFF, or 0xFB in binary rows) */
    MW_E_ROW_HEADER = 24,        /* a = the binary row's first byte (not 0x00) */
    MW_E_ROW_TRAILING = 25,      /* a = bytes left after the last column */
    MW_E_ROW_TEMPORAL = 26,      /* a = invalid DATE/DATETIME/TIME length byte */
    MW_E_ROW_VALUE = 27,         /* value text at offset (a bytes) is invalid for its kind */
    MW_E_ROW_RANGE = 28,         /* integer text at offset (a bytes) out of 64-bit range */
    MW_E_ROW_SPAN = 29,          /* span (offset, a) outside the b-byte input */
    MW_E_ROW_UTF8 = 30,          /* text at offset (a bytes) is not valid in its charset */
    MW_E_ROW_JSON = 31,          /* JSON column at offset (a bytes) is not a JSON text */
    MW_E_ROW_NONFINITE = 32,     /* FLOAT/DOUBLE at offset (a bytes) is inf or nan */
    MW_ROWS_BUDGET = 33          /* transcoder: the next row would end beyond budget */
};

typedef struct {
    uint8_t kind;      /* MW_K_* */
    uint8_t width;     /* bytes of an integer column in binary rows (1, 2, 4, 8) */
    uint8_t decimals;  /* fractional-second digits of temporal columns */
    uint8_t opts;      /* transcoder: MW_OPT_* bits */
} mw_column;

typedef struct {
    uint64_t rows;     /* rows written by this call */
    uint64_t start;    /* the msgpack document is out[start..end) */
    uint64_t end;
    uint64_t row;      /* index of the failing row */
    uint64_t offset;   /* where the failing field starts in buf */
    uint64_t a;
    uint64_t b;
    int32_t column;    /* failing column; -1 row header, -2 NULL bitmap, -3 after the last */
    int32_t status;
} mw_rows_result;

/* Decode rows first..nrows-1, row r being buf[spans[2r] .. spans[2r] + spans[2r+1]),
 * text rows (binary == 0) or binary-protocol rows, against ncols columns.  Writes one
 * msgpack array of rows (each an array of values) to out and returns MW_OK, or
 * MW_ROWS_FULL when out filled up first (res.rows complete rows written; call again from
 * first + res.rows), or an MW_E_ROW_* status (or MW_E_ARGUMENT for a value of 4 GiB or
 * more, which msgpack cannot carry) with res filled.  Every span is checked before any
 * row is decoded. */
int mw_decode_rows(const mw_column *cols, size_t ncols, int32_t binary,
                   const uint8_t *buf, size_t len, const uint64_t *spans,
                   size_t first, size_t nrows, uint8_t *out, size_t outlen,
                   mw_rows_result *res);

/* ------------------------------------------------------------------ transcoder
 * (mw_transcode.c) Rows straight to output bytes; mywire/_tcspec.py is the
 * specification of every value rule, row shape and status. */

enum {
    MW_OPT_QUOTE = 1,  /* integer column written as a string */
    MW_OPT_NUMBER = 2  /* DECIMAL column written as a number */
};

enum { MW_FMT_JSON = 1, MW_FMT_NDJSON = 2, MW_FMT_MSGPACK = 3, MW_FMT_PSDB = 4 };

/* Check the nspans spans, then transcode rows first .. first+count-1 into out (sep: the
 * first row written gets a ',' separator too, json and psdb).  Returns MW_OK, or
 * MW_ROWS_FULL (out is full: res.rows rows written, out[0..res.end)), or MW_ROWS_BUDGET
 * (the next row would end beyond budget bytes), or an error status with res filled
 * (MW_E_ARGUMENT for a K_TEXT column, which needs Python's codecs). */
int mw_transcode_rows(const mw_column *cols, size_t ncols, int32_t binary, int32_t format,
                      int32_t sep, const uint8_t *buf, size_t len, const uint64_t *spans,
                      size_t nspans, size_t first, size_t count, uint64_t budget, uint8_t *out,
                      size_t outlen, mw_rows_result *res);

/* ------------------------------------------------------------------ floats (mw_dtoa.c)
 * Shortest round-trip text of n doubles (exactly Python's repr) or n float32s (the
 * shortest digits that read back as the same float32, closest to the value on a tie, in
 * repr's layout), written back to back to out; ends[i] is the offset after value i.
 * 32 bytes per value always suffice.  Returns the bytes written, or -1 when out (or the
 * uint32 offsets) is too small. */
int64_t mw_format_doubles(const double *values, size_t n, uint8_t *out, size_t outcap,
                          uint32_t *ends);
int64_t mw_format_floats32(const float *values, size_t n, uint8_t *out, size_t outcap,
                           uint32_t *ends);

/* MW_CDEF_SKIP_BEGIN */
#endif
/* MW_CDEF_SKIP_END */
