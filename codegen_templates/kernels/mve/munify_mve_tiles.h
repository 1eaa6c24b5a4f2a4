/* CONV_2D and FULLY_CONNECTED over 4 x 16 weight tiles with Helium: tiles of pruned blocks are absent.
 *
 * Layouts mve-tiles / mve-tiles-signs (toolchain.plan.kernels.mve.kernels.pack_tiles). Per group of 4 rows:
 * counts[2g] dense tiles and counts[2g + 1] unified tiles; `steps` gives each tile's reduction offset (16 * step),
 * dense tiles first. A dense tile is 64 int8 weights (4 rows of 16): one activation load, 4 weight loads and 4
 * VMLADAVA. A unified tile (mve-tiles-signs) is per row one word, its 16-bit sign mask and magnitude m: per
 * row the mask as the predicate selects -1 / +1 per lane (VPSEL), one VMLADAV with the activations and one
 * SMLABT by m (4 instructions a row and an LDRD per two rows, against 2 of a dense row: unified tiles save
 * bytes, not time).
 *
 * The layer source defines the macros of munify_mve_matrix.h and MVE_SIGNS (1: mve-tiles-signs). When the
 * patch is read in place over kernel rows (MVE_SEGMENTED), the steps are turned into input offsets once per
 * call, into scratch after the gathered patch.
 */
#ifndef MUNIFY_MVE_TILES_H
#define MUNIFY_MVE_TILES_H

#include "munify_mve_matrix.h"

#define MVE_STEPS (MVE_COLS / 16)

typedef struct {
    const uint16_t *counts;
    const uint16_t *steps; /* reduction offsets of a contiguous patch */
    const int8_t *dense;
    const uint32_t *rows; /* per row of a unified tile: sign mask | magnitude << 16 */
} mve_tiles;

/* n >= 0 dense tiles: the activation step at x + offset, then 4 rows of weights */
#define MVE_DENSE_TILES                                                                                      \
    "wls       lr, %[n], 2f\n\t"                                                                           \
    "1:\n\t"                                                                                                \
    "ldrh      %[t], [%[s]], #2\n\t"                                                                       \
    "add       %[t], %[x], %[t]\n\t"                                                                       \
    "vldrb.8   q0, [%[t]]\n\t"                                                                             \
    "vldrb.8   q1, [%[w]], #16\n\t"                                                                        \
    "vmlava.s8 %[a0], q0, q1\n\t"                                                                          \
    "vldrb.8   q1, [%[w]], #16\n\t"                                                                        \
    "vmlava.s8 %[a1], q0, q1\n\t"                                                                          \
    "vldrb.8   q1, [%[w]], #16\n\t"                                                                        \
    "vmlava.s8 %[a2], q0, q1\n\t"                                                                          \
    "vldrb.8   q1, [%[w]], #16\n\t"                                                                        \
    "vmlava.s8 %[a3], q0, q1\n\t"                                                                          \
    "le        lr, 1b\n\t"                                                                                  \
    "2:\n\t"

/* one row of a unified tile from its word w (sign mask | magnitude << 16): the mask as the predicate selects
 * -1 or +1 per lane (VPSEL; VMSR P0 takes bits 0-15), VMLADAV gives sum_j sign_j * x_j (|sum| <= 2048, an
 * int16), SMLABT adds it times the magnitude (the word's top half) */
#define MVE_SIGN_ROW(w, acc)                                                                                 \
    "vmsr      p0, %[" w "]\n\t"                                                                            \
    "vpsel     q1, %q[minus], %q[plus]\n\t"                                                                \
    "vmlav.s8  %[sum], q0, q1\n\t"                                                                         \
    "smlabt    %[" acc "], %[sum], %[" w "], %[" acc "]\n\t"

/* per unified tile: its activation step, then the 4 row words two at a time (LDRD) */
#define MVE_SIGN_TILES                                                                                       \
    "wls       lr, %[n], 2f\n\t"                                                                           \
    "1:\n\t"                                                                                                \
    "ldrh      %[t], [%[s]], #2\n\t"                                                                       \
    "add       %[t], %[x], %[t]\n\t"                                                                       \
    "vldrb.8   q0, [%[t]]\n\t"                                                                             \
    "ldrd      %[t], %[u], [%[g]], #8\n\t" MVE_SIGN_ROW("t", "a0") MVE_SIGN_ROW("u", "a1")                  \
    "ldrd      %[t], %[u], [%[g]], #8\n\t" MVE_SIGN_ROW("t", "a2") MVE_SIGN_ROW("u", "a3")                  \
    "le        lr, 1b\n\t"                                                                                  \
    "2:\n\t"

/* acc[0..3] = the 4 rows of the group's tiles dotted with the patch at x; advances the tile pointers */
MUNIFY_MVE_FN void mve_tiles_dot4(const int8_t *x, mve_tiles *t, const uint16_t **steps, int32_t *acc)
{
    register int32_t a0 __asm("r4") = 0;
    register int32_t a1 __asm("r6") = 0;
    register int32_t a2 __asm("r8") = 0;
    register int32_t a3 __asm("r10") = 0;
    const uint16_t *s = *steps;
    const int8_t *w = t->dense;
    uint32_t tmp;
    __asm volatile(MVE_DENSE_TILES
                   : [s] "+r"(s), [w] "+r"(w), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3),
                     [t] "=&r"(tmp)
                   : [n] "r"((uint32_t)t->counts[0]), [x] "r"(x)
                   : "lr", "q0", "q1", "memory");
    t->dense = w;
#if MVE_SIGNS
    register int32_t sum __asm("r2"); /* VMLADAV writes an even register */
    const uint32_t *g = t->rows;
    uint32_t second;
    const int8x16_t minus = vdupq_n_s8(-1), plus = vdupq_n_s8(1);
    __asm volatile(MVE_SIGN_TILES
                   : [s] "+r"(s), [g] "+r"(g), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3),
                     [t] "=&r"(tmp), [u] "=&r"(second), [sum] "=&r"(sum)
                   : [n] "r"((uint32_t)t->counts[1]), [x] "r"(x), [minus] "w"(minus), [plus] "w"(plus)
                   : "lr", "q0", "q1", "memory");
    t->rows = g;
#endif
    t->counts += 2;
    *steps = s;
    __asm volatile("strd %[a0], %[a1], [%[acc]]\n\t"
                   "strd %[a2], %[a3], [%[acc], #8]"
                   :
                   : [acc] "r"(acc), [a0] "r"(a0), [a1] "r"(a1), [a2] "r"(a2), [a3] "r"(a3)
                   : "memory");
}

/* the MVE_ROWS outputs of one patch; `steps` are the tiles' offsets in that patch */
MUNIFY_MVE_INLINE void mve_tiles_pixel(const int8_t *x, mve_tiles t, const uint16_t *steps, const int32_t *bias,
                                       const int32_t *mult, const int32_t *shift, int32_t *acc, int8_t *out,
                                       int32_t right_only)
{
    for (int32_t g = 0; g < MVE_GROUPS; ++g) {
        mve_tiles_dot4(x, &t, &steps, acc + 4 * g);
    }
    munify_mve_requantize_rows(acc, bias, mult, shift, out, right_only);
}

/* the steps of a contiguous patch as offsets in the input: kernel row * MVE_SEG_STRIDE + offset in the row */
MUNIFY_MVE_FN void mve_input_steps(const uint16_t *steps, int32_t n, uint16_t *offsets)
{
    for (int32_t i = 0; i < n; ++i) {
        const int32_t row = steps[i] / MVE_SEG_BYTES;
        offsets[i] = (uint16_t)(row * MVE_SEG_STRIDE + steps[i] - row * MVE_SEG_BYTES);
    }
}

MUNIFY_MVE_INLINE void mve_tiles_layer(const int8_t *input, int8_t *output, int8_t *scratch, const mve_tiles *tiles,
                                       const uint16_t *in_place, const int32_t *bias, const int32_t *mult,
                                       const int32_t *shift, int32_t right_only)
{
    int32_t *acc = (int32_t *)(void *)scratch;
    int8_t *patch = scratch + MVE_ACC_BYTES;
    int8_t *out = output;
    for (int32_t oy = 0; oy < MVE_OUT_H; ++oy) {
        const int32_t iy0 = oy * MVE_STRIDE_H - MVE_PAD_TOP;
        for (int32_t ox = 0; ox < MVE_OUT_W; ++ox, out += MVE_ROWS) {
            const int32_t ix0 = ox * MVE_STRIDE_W - MVE_PAD_LEFT;
            if (MVE_IN_PLACE && mve_inside(iy0, ix0)) {
                mve_tiles_pixel(input + (iy0 * MVE_IN_W + ix0) * MVE_CIN, *tiles, in_place, bias, mult, shift, acc,
                                out, right_only);
            } else {
                mve_gather_patch(input, iy0, ix0, patch);
                mve_tiles_pixel(patch, *tiles, tiles->steps, bias, mult, shift, acc, out, right_only);
            }
        }
    }
}

/* scratch: the accumulators of one pixel, the gathered patch, then (segmented) the steps as input offsets */
MUNIFY_MVE_FN void munify_mve_tiles_s8(const int8_t *input, int8_t *output, int8_t *scratch, const mve_tiles *tiles,
                                       int32_t n_steps, const int32_t *bias, const int32_t *mult,
                                       const int32_t *shift)
{
    const uint16_t *in_place = tiles->steps;
#if MVE_SEGMENTED
    uint16_t *offsets = (uint16_t *)(void *)(scratch + MVE_ACC_BYTES + (MVE_COLS + 3) / 4 * 4);
    mve_input_steps(tiles->steps, n_steps, offsets);
    in_place = offsets;
#else
    (void)n_steps;
#endif
#if MVE_PER_CHANNEL
    if (munify_mve_right_shifts_only(shift, MVE_ROWS)) {
        mve_tiles_layer(input, output, scratch, tiles, in_place, bias, mult, shift, 1);
        return;
    }
#endif
    mve_tiles_layer(input, output, scratch, tiles, in_place, bias, mult, shift, 0);
}

#endif
