#include <string.h>

#include <arm_acle.h>

#include "munify_dsp.h"

static inline uint32_t load_word(const int8_t *p)
{
    uint32_t w;
    memcpy(&w, p, sizeof w); /* LDR: the M-profile cores here allow unaligned word loads */
    return w;
}

void munify_dsp_widen_pairs(const int8_t *x, int32_t n, int32_t offset, int16_t *out)
{
    uint32_t offset2 = ((uint32_t)offset & 0xFFFFu) * 0x10001u;
    uint32_t *dst = (uint32_t *)out;
    int32_t full = n >> 2;
    for (int32_t g = 0; g < full; ++g) {
        uint32_t w = load_word(x + 4 * g);
        dst[2 * g] = __sxtab16(offset2, w);
        dst[2 * g + 1] = __sxtab16(offset2, (w >> 8) | (w << 24));
    }
    int32_t rest = n & 3;
    if (rest) {
        int16_t tail[4] = {0, 0, 0, 0};
        for (int32_t i = 0; i < rest; ++i) {
            tail[i] = (int16_t)(x[4 * full + i] + offset);
        }
        int16_t *o = out + 4 * full;
        o[0] = tail[0];
        o[1] = tail[2];
        o[2] = tail[1];
        o[3] = tail[3];
    }
}
