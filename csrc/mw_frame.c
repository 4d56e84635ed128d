/* Packet framing: the C twin of _pycore.scan_packets / build_packets. */
#include <string.h>

#include "mywire_api.h"
#include "mw_reader.h"

#define MW_MAX_PACKET 0xFFFFFFu

/* In rows mode, the packet at pos is not a plain single-packet row: a terminator (EOF, or
 * the 0xFE OK under DEPRECATE_EOF, never judged by the first byte alone), an ERR, or the
 * first packet of a row of 16 MiB or more. */
static int row_stop(const uint8_t *body, uint64_t n, int32_t rows)
{
    if (n == MW_MAX_PACKET)
        return 1;
    if (n == 0)
        return 0;
    if (body[0] == 0xFF)
        return 1;
    if (body[0] == 0xFE)
        return rows == MW_ROWS_EOF ? n < 9 : n < MW_MAX_PACKET;
    return 0;
}

int mw_scan_packets(const uint8_t *buf, size_t len, size_t start, int32_t seq,
                    uint64_t partial, uint64_t max_payload, int32_t rows,
                    uint64_t *spans, size_t max_count, mw_scan_result *res)
{
    size_t pos = start;
    size_t count = 0;
    int status = MW_OK;
    memset(&res->err, 0, sizeof res->err);
    res->need = 0;
    if (start > len) {
        status = MW_E_ARGUMENT;
        goto done;
    }
    while (count < max_count) {
        if (len - pos < 4) {
            status = pos == len ? MW_OK : MW_NEED_HEADER;
            break;
        }
        uint64_t n = mw_le(buf + pos, 3);
        int s = buf[pos + 3];
        if (seq >= 0 && s != seq) {
            status = MW_E_OUT_OF_SYNC;
            res->err.offset = pos;
            res->err.a = (uint64_t)seq;
            res->err.b = (uint64_t)s;
            break;
        }
        /* partial <= max_payload always holds here, so this cannot overflow. */
        if (n > max_payload - partial) {
            status = MW_E_TOO_LARGE;
            res->err.offset = pos;
            res->err.a = partial + n;
            break;
        }
        if (len - pos - 4 < n) {
            status = MW_NEED_BODY;
            res->need = n;
            break;
        }
        if (rows && partial == 0 && row_stop(buf + pos + 4, n, rows)) {
            status = MW_ROW_STOP;
            break;
        }
        spans[2 * count] = pos + 4;
        spans[2 * count + 1] = n;
        count++;
        if (seq >= 0)
            seq = (s + 1) & 0xFF;
        partial = n == MW_MAX_PACKET ? partial + n : 0;
        pos += 4 + (size_t)n;
    }
done:
    res->end = pos;
    res->count = count;
    res->partial = partial;
    res->seq = seq;
    res->status = status;
    return status;
}

int32_t mw_build_packets(const uint8_t *payload, size_t len, uint8_t seq,
                         uint8_t *out, size_t outlen)
{
    size_t npackets = len / MW_MAX_PACKET + 1;
    if (outlen < len + 4 * npackets)
        return -1;
    size_t pos = 0;
    uint8_t *w = out;
    for (size_t i = 0; i < npackets; i++) {
        size_t n = len - pos < MW_MAX_PACKET ? len - pos : MW_MAX_PACKET;
        w[0] = (uint8_t)n;
        w[1] = (uint8_t)(n >> 8);
        w[2] = (uint8_t)(n >> 16);
        w[3] = seq++;
        if (n)
            memcpy(w + 4, payload + pos, n);
        w += 4 + n;
        pos += n;
    }
    return seq;
}
