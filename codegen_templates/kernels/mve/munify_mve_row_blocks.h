/* FULLY_CONNECTED (one input vector) over 1 x MVE_BI row blocks with Helium: pruned blocks are absent.
 *
 * Layouts mve-row-blocks / mve-row-blocks-signs (toolchain.plan.kernels.mve.kernels.pack_row_blocks), any
 * bo x MVE_BI blocks read as bo rows of 1 x MVE_BI: per row, counts[2r] dense blocks and counts[2r + 1] unified
 * blocks; `offsets` gives each block's first input (dense blocks first). A dense block is MVE_BI int8 weights:
 * one widening load of the activations, one of the weights, one VMLADAVA (6 instructions with its offset and
 * the loop). A unified block (-signs) is one word: its predicate (bits 0-15, the lanes of negative weights) and
 * magnitude m (bits 16-31): the predicate selects -1 / +1 per lane (VPSEL), VMLADAV gives the signed sum of the
 * activations, SMLABT adds it times m (9 instructions). The row accumulators go to scratch, then the rows are
 * requantized 4 at a time (munify_mve_matrix.h).
 *
 * The layer source defines the macros of munify_mve_matrix.h, MVE_BI (4, 8 or 16) and MVE_SIGNS.
 */
#ifndef MUNIFY_MVE_ROW_BLOCKS_H
#define MUNIFY_MVE_ROW_BLOCKS_H

#include "munify_mve_matrix.h"

#if MVE_BI == 16
#define MVE_BLOCK_LOAD "vldrb.8"
#define MVE_BLOCK_TYPE ".s8"
#define MVE_BLOCK_ONES() vdupq_n_s8(1)
#elif MVE_BI == 8
#define MVE_BLOCK_LOAD "vldrb.s16"
#define MVE_BLOCK_TYPE ".s16"
#define MVE_BLOCK_ONES() vreinterpretq_s8_s16(vdupq_n_s16(1))
#elif MVE_BI == 4
#define MVE_BLOCK_LOAD "vldrb.s32"
#define MVE_BLOCK_TYPE ".s32"
#define MVE_BLOCK_ONES() vreinterpretq_s8_s32(vdupq_n_s32(1))
#else
#error "munify_mve_row_blocks.h takes 1 x 4, 1 x 8 or 1 x 16 blocks"
#endif

typedef struct {
    const uint16_t *counts;
    const uint16_t *offsets;
    const int8_t *dense;
    const uint32_t *unified; /* per unified block: predicate | magnitude << 16 */
} mve_row_blocks;

/* n >= 0 dense blocks of one row into a */
#define MVE_DENSE_BLOCKS                                                                                     \
    "wls       lr, %[n], 2f\n\t"                                                                           \
    "1:\n\t"                                                                                                \
    "ldrh      %[t], [%[o]], #2\n\t"                                                                       \
    "add       %[t], %[x], %[t]\n\t" MVE_BLOCK_LOAD " q0, [%[t]]\n\t" MVE_BLOCK_LOAD " q1, [%[w]], #" MVE_BI_STR \
    "\n\t"                                                                                                  \
    "vmlava" MVE_BLOCK_TYPE " %[a], q0, q1\n\t"                                                            \
    "le        lr, 1b\n\t"                                                                                  \
    "2:\n\t"

/* n >= 0 unified blocks of one row into a */
#define MVE_SIGN_BLOCKS                                                                                      \
    "wls       lr, %[n], 2f\n\t"                                                                           \
    "1:\n\t"                                                                                                \
    "ldrh      %[t], [%[o]], #2\n\t"                                                                       \
    "add       %[t], %[x], %[t]\n\t" MVE_BLOCK_LOAD " q0, [%[t]]\n\t"                                      \
    "ldr       %[t], [%[g]], #4\n\t"                                                                       \
    "vmsr      p0, %[t]\n\t"                                                                                \
    "vpsel     q1, %q[minus], %q[plus]\n\t"                                                                \
    "vmlav" MVE_BLOCK_TYPE " %[sum], q0, q1\n\t"                                                           \
    "smlabt    %[a], %[sum], %[t], %[a]\n\t"                                                               \
    "le        lr, 1b\n\t"                                                                                  \
    "2:\n\t"

#define MVE_STR2(x) #x
#define MVE_STR(x) MVE_STR2(x)
#define MVE_BI_STR MVE_STR(MVE_BI)

MUNIFY_MVE_INLINE void mve_row_blocks_layer(const int8_t *x, int8_t *output, int32_t *acc, const mve_row_blocks *b,
                                            const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                            int32_t right_only)
{
    const uint16_t *counts = b->counts, *o = b->offsets;
    const int8_t *w = b->dense;
#if MVE_SIGNS
    const uint32_t *g = b->unified;
    const int8x16_t minus = vdupq_n_s8(-1), plus = MVE_BLOCK_ONES();
#endif
    for (int32_t r = 0; r < MVE_ROWS; ++r, counts += 2) {
        /* VMLADAVA accumulates into an even register; the widening loads take low base registers ("l") */
        register int32_t a __asm("r4") = 0;
        uint32_t tmp;
        __asm volatile(MVE_DENSE_BLOCKS
                       : [o] "+r"(o), [w] "+l"(w), [a] "+r"(a), [t] "=&l"(tmp)
                       : [n] "r"((uint32_t)counts[0]), [x] "r"(x)
                       : "lr", "q0", "q1", "memory");
#if MVE_SIGNS
        register int32_t sum __asm("r2");
        __asm volatile(MVE_SIGN_BLOCKS
                       : [o] "+r"(o), [g] "+r"(g), [a] "+r"(a), [t] "=&l"(tmp), [sum] "=&r"(sum)
                       : [n] "r"((uint32_t)counts[1]), [x] "r"(x), [minus] "w"(minus), [plus] "w"(plus)
                       : "lr", "q0", "q1", "memory");
#endif
        acc[r] = a;
    }
    munify_mve_requantize_rows(acc, bias, mult, shift, output, right_only);
}

/* scratch: the accumulators of the MVE_ROWS rows (MVE_ACC_BYTES) */
MUNIFY_MVE_FN void munify_mve_row_blocks_s8(const int8_t *input, int8_t *output, int8_t *scratch,
                                            const mve_row_blocks *blocks, const int32_t *bias, const int32_t *mult,
                                            const int32_t *shift)
{
    int32_t *acc = (int32_t *)(void *)scratch;
#if MVE_PER_CHANNEL
    if (munify_mve_right_shifts_only(shift, MVE_ROWS)) {
        mve_row_blocks_layer(input, output, acc, blocks, bias, mult, shift, 1);
        return;
    }
#endif
    mve_row_blocks_layer(input, output, acc, blocks, bias, mult, shift, 0);
}

#endif
