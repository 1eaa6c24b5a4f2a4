/* One column (FC batch, conv output pixel) at a time through a block kernel family: included by the family
 * headers after their blocks_accumulate(col, full_rows, acc), which sums the full row blocks of one column
 * (or, with MUNIFY_DSP_SCALAR 1, not at all: munify_dsp_blocks_scalar.h sums every row). */
#ifndef MUNIFY_DSP_BLOCKS_COLUMNS_H
#define MUNIFY_DSP_BLOCKS_COLUMNS_H

#include "munify_dsp_blocks_common.h"

#if !MUNIFY_DSP_SCALAR
/* All rows of one column into out[0 .. rows); acc holds one int32 per row. */
MUNIFY_DSP_FN void blocks_column_rows(const blocks_column *col, int8_t *out)
{
    int32_t *acc = col->acc;
    const munify_dsp_blocks *p = col->p;
    const munify_dsp_quant q = p->q;
    int32_t full_rows = p->rows - p->rows % MUNIFY_DSP_BO;
    if (full_rows > 0) {
        blocks_accumulate(col, full_rows, acc);
    }
    const int8_t *tail = p->lists.tail_weights;
    for (int32_t r = 0; r < full_rows; ++r) {
        out[r] = munify_dsp_output(acc[r], &q, r);
    }
    int32_t groups = munify_dsp_round_up4(p->cols) >> 2;
    for (int32_t r = full_rows; r < p->rows; ++r) {
        int32_t a = p->bias[r];
        for (int32_t g = 0; g < groups; ++g, tail += 4) {
            uint32_t word = munify_dsp_load_word(tail);
            a = __smlad(__sxtb16(word), col->widened[2 * g], a);
            a = __smlad(__sxtb16(munify_dsp_ror8(word)), col->widened[2 * g + 1], a);
        }
        out[r] = munify_dsp_output(a, &q, r);
    }
}
#endif

/* One column (FC batch or conv pixel) through all rows. */
MUNIFY_DSP_FN void blocks_run_column(blocks_column *col, const int8_t *x, int8_t *out, uint32_t *widened,
                                     uint8_t *unsigned_x)
{
#if MUNIFY_DSP_SCALAR
    const munify_dsp_blocks *p = col->p;
    (void)widened;
    (void)unsigned_x;
    munify_dsp_blocks_accumulate_scalar(&p->lists, blocks_shape, p->rows, p->cols, p->bias, x, col->acc);
    for (int32_t r = 0; r < p->rows; ++r) {
        out[r] = munify_dsp_output(col->acc[r], &p->q, r);
    }
#else
    munify_dsp_widen_pairs(x, col->p->cols, widened, 2);
#if MUNIFY_DSP_PAIR_RECORDS
    if (blocks_any_unified(col->p)) {
        blocks_pair_table(x, col->p->cols, (uint32_t *)(void *)unsigned_x);
    }
#else
    blocks_unsigned(x, col->p->cols, unsigned_x);
#endif
    blocks_column_rows(col, out);
#endif
}

MUNIFY_DSP_FN void munify_dsp_fc_blocks_s8(const munify_dsp_blocks *p, int32_t batches, const int8_t *input,
                                           int8_t *output, int16_t *scratch)
{
    uint32_t *widened;
    uint8_t *unsigned_x;
    int8_t *im2col;
    blocks_column col = blocks_prepare(p, 2, 0, scratch, &widened, &unsigned_x, &im2col);
    for (int32_t b = 0; b < batches; ++b) {
        blocks_run_column(&col, input + b * p->cols, output + b * p->rows, widened, unsigned_x);
    }
}

/* CONV_2D one output pixel at a time (im2col patch, or the input pixel when pointwise). */
MUNIFY_DSP_FN void blocks_conv_by_pixel(const munify_dsp_blocks *p, const munify_dsp_conv *geometry,
                                        const int8_t *input, int8_t *output, int16_t *scratch)
{
    uint32_t *widened;
    uint8_t *unsigned_x;
    int8_t *im2col;
    int32_t pixels = geometry->out_h * geometry->out_w;
    blocks_column col = blocks_prepare(p, 2, 0, scratch, &widened, &unsigned_x, &im2col);
    for (int32_t pixel = 0; pixel < pixels; ++pixel) {
        const int8_t *x = munify_dsp_conv_patch(geometry, input, pixel / geometry->out_w, pixel % geometry->out_w,
                                                im2col);
        blocks_run_column(&col, x, output + pixel * p->rows, widened, unsigned_x);
    }
}

#endif
