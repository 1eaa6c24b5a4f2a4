/* Other bo x bi blocks (bo 1 / 2 / 4 with bi 16, bo 4 with any bi): C loops over the block lists with the ACLE
 * intrinsics, one column at a time (about 2.5x the instructions of the assembly families). Layouts and the
 * plain C path: munify_dsp_blocks_scalar.h. */
#ifndef MUNIFY_DSP_MATRIX_BLOCKS_MXN_S8_H
#define MUNIFY_DSP_MATRIX_BLOCKS_MXN_S8_H

#include "munify_dsp_blocks_common.h"

#if MUNIFY_DSP_RECORDS
#error "munify_dsp_matrix_blocks_mxn_s8.h reads unified block lists; 1 x bi blocks have their own headers"
#endif

/* The cursors over the packed block lists; they advance row block by row block. */
typedef struct {
    const int8_t *dense_weights;
    const uint16_t *dense_cols;
    const uint16_t *unified_cols;
    const uint8_t *signs;
    const int16_t *magnitudes;
} blocks_cursor;

static inline void blocks_dense(const blocks_column *col, blocks_cursor *cur, int32_t count, int32_t *acc)
{
    const int8_t *w = cur->dense_weights;
    const uint16_t *cols = cur->dense_cols;
    for (; count > 0; --count) {
        const uint32_t *xw = col->widened + (*cols++ >> 1);
        for (int32_t r = 0; r < MUNIFY_DSP_BO; ++r) {
            int32_t a = acc[r];
            for (int32_t g = 0; g < MUNIFY_DSP_BI / 4; ++g, w += 4) {
                uint32_t word = munify_dsp_load_word(w);
                a = __smlad(__sxtb16(word), xw[2 * g], a);
                a = __smlad(__sxtb16(munify_dsp_ror8(word)), xw[2 * g + 1], a);
            }
            acc[r] = a;
        }
    }
    cur->dense_weights = w;
    cur->dense_cols = cols;
}

static inline void blocks_unified(const blocks_column *col, blocks_cursor *cur, int32_t count, int32_t *acc)
{
    const uint8_t *signs = cur->signs;
    const int16_t *mags = cur->magnitudes;
    const uint16_t *cols = cur->unified_cols;
    for (; count > 0; --count) {
        const uint8_t *u = col->unsigned_x + *cols++;
        uint32_t uw[MUNIFY_DSP_BI / 4];
        memcpy(uw, u, sizeof uw);
        for (int32_t r = 0; r < MUNIFY_DSP_BO; ++r, signs += MUNIFY_DSP_SIGN_BYTES) {
            uint32_t sum = __usad8(uw[0], blocks_mask_word(signs, 0));
            for (int32_t g = 1; g < MUNIFY_DSP_BI / 4; ++g) {
                sum = __usada8(uw[g], blocks_mask_word(signs, g), sum);
            }
            acc[r] = __smlabb((int32_t)sum, *mags++, acc[r]);
        }
    }
    cur->signs = signs;
    cur->magnitudes = mags;
    cur->unified_cols = cols;
}

MUNIFY_DSP_FN void blocks_accumulate(const blocks_column *col, int32_t full_rows, int32_t *acc)
{
    const munify_dsp_blocks *p = col->p;
    const munify_dsp_block_lists *l = &p->lists;
    blocks_cursor cur = {l->dense_weights, l->dense_cols, l->unified_cols, l->unified_signs, l->unified_magnitudes};
    const uint16_t *counts = l->counts;
    for (int32_t r0 = 0; r0 < full_rows; r0 += MUNIFY_DSP_BO, counts += 2) {
        for (int32_t r = 0; r < MUNIFY_DSP_BO; ++r) {
            acc[r0 + r] = p->bias[r0 + r] + l->unified_bias[r0 + r];
        }
        blocks_dense(col, &cur, counts[0], acc + r0);
        blocks_unified(col, &cur, counts[1], acc + r0);
    }
}

#include "munify_dsp_blocks_columns.h"

MUNIFY_DSP_FN void munify_dsp_conv_blocks_s8(const munify_dsp_blocks *p, const munify_dsp_conv *geometry,
                                             const int8_t *input, int8_t *output, int16_t *scratch)
{
    blocks_conv_by_pixel(p, geometry, input, output, scratch);
}

#endif
