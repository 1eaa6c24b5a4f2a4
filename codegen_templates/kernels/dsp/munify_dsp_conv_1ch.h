/* CONV_2D with one input channel and at most 9 taps (the first conv of an image model: 3x3 over grey pixels),
 * dense int8 weights. Per output pixel the taps are gathered (padding taps read the input zero point) and
 * widened once into five int16-pair words, which stay in registers while every output channel is one LDM of
 * its four weight words, one LDR of the fifth and five SMLAD; the requantization loop follows.
 *
 * Layout dsp-conv1ch (toolchain.plan.kernels.dsp.kernels.pack_conv_1ch): per output channel five words of
 * int16 weights in the order of the widened taps, (w0, w2) (w1, w3) (w4, w6) (w5, w7) (w8, 0), taps past the
 * kernel's zero. Scratch (munify_dsp_conv_1ch_scratch_size): the requantization table, one accumulator per
 * output channel, the six widened words of the patch, then the 12-byte patch.
 */
#ifndef MUNIFY_DSP_CONV_1CH_H
#define MUNIFY_DSP_CONV_1CH_H

#include "munify_dsp.h"

#define MUNIFY_DSP_CONV_1CH_WORDS 5 /* int16-pair words of weights per output channel (9 taps) */
#define MUNIFY_DSP_CONV_1CH_PATCH 12 /* patch bytes: the taps padded to whole groups of 4 */

typedef struct {
    const uint32_t *taps;   /* the patch widened: (x0, x2) (x1, x3) (x4, x6) (x5, x7) (x8, 0) */
    const int16_t *weights; /* layout dsp-conv1ch */
    const int32_t *bias;
    int32_t *acc;
    int32_t channels; /* >= 1 */
} conv_1ch_state;

_Static_assert(offsetof(conv_1ch_state, taps) == 0 && offsetof(conv_1ch_state, weights) == 4 &&
                   offsetof(conv_1ch_state, bias) == 8 && offsetof(conv_1ch_state, acc) == 12 &&
                   offsetof(conv_1ch_state, channels) == 16,
               "conv_1ch_state: conv_1ch_channels reads these word offsets");

#ifndef MUNIFY_DSP_SCALAR
#define MUNIFY_DSP_SCALAR 0
#endif
#ifndef MUNIFY_DSP_REQUANT_FOLDED
#define MUNIFY_DSP_REQUANT_FOLDED 0
#endif

#if MUNIFY_DSP_SCALAR
/* The same-layout plain C path: acc[c] = bias[c] + the weights of channel c times the widened patch. */
MUNIFY_DSP_FN void conv_1ch_channels(const conv_1ch_state *state)
{
    const int16_t *w = state->weights;
    for (int32_t c = 0; c < state->channels; ++c, w += 2 * MUNIFY_DSP_CONV_1CH_WORDS) {
        int32_t a = state->bias[c];
        for (int32_t j = 0; j < 2 * MUNIFY_DSP_CONV_1CH_WORDS; ++j) {
            a += w[j] * (int16_t)(state->taps[j / 2] >> (16 * (j % 2)));
        }
        state->acc[c] = a;
    }
}
#else
/* acc[c] = bias[c] + the five SMLAD of channel c's weights with the patch (held in r4-r8). */
MUNIFY_ASM_FUNCTION conv_1ch_channels(MUNIFY_ASM_ARG const conv_1ch_state *state)
{
    __asm volatile("push   {r4-r11, lr}\n\t"
                   "ldm    r0, {r0, r1, r2, r3, lr}\n\t"
                   "ldm    r0, {r4, r5, r6, r7, r8}\n\t"
                   "1:\n\t"
                   "ldr    r0, [r2], #4\n\t"
                   "ldm    r1!, {r9, r10, r11, r12}\n\t"
                   "smlad  r0, r9, r4, r0\n\t"
                   "smlad  r0, r10, r5, r0\n\t"
                   "smlad  r0, r11, r6, r0\n\t"
                   "smlad  r0, r12, r7, r0\n\t"
                   "ldr    r9, [r1], #4\n\t"
                   "smlad  r0, r9, r8, r0\n\t"
                   "str    r0, [r3], #4\n\t"
                   "subs   lr, lr, #1\n\t"
                   "bne    1b\n\t"
                   "pop    {r4-r11, pc}\n\t");
}
#endif

#if MUNIFY_DSP_REQUANT_FOLDED && !MUNIFY_DSP_SCALAR
/* MUNIFY_DSP_REQUANT_FOLDED (the plan's requant_folds_offset: no accumulator reaches the overflow path, every
 * channel shifts right, the output offset joins the nudge): each channel's accumulator is requantized in the
 * register it was summed in, from one entry {bias, multiplier, nudge + (offset << right), right}; no
 * accumulator is stored and read back, no second loop. 18 instructions an output (22 with a lower bound). */
typedef struct {
    int32_t bias;
    int32_t multiplier;
    int32_t nudge; /* with the output offset: nudge + (offset << right) */
    int32_t right;
} conv_1ch_entry;

typedef struct {
    const uint32_t *taps;
    const int16_t *weights;
    const conv_1ch_entry *entries;
    int8_t *out;
    const int8_t *out_end; /* out + channels */
    int32_t act_min;
} conv_1ch_fused_state;

_Static_assert(offsetof(conv_1ch_fused_state, taps) == 0 && offsetof(conv_1ch_fused_state, weights) == 4 &&
                   offsetof(conv_1ch_fused_state, entries) == 8 && offsetof(conv_1ch_fused_state, out) == 12 &&
                   offsetof(conv_1ch_fused_state, out_end) == 16 && offsetof(conv_1ch_fused_state, act_min) == 20,
               "conv_1ch_fused_state: conv_1ch_channels_fused reads these word offsets");
_Static_assert(sizeof(conv_1ch_entry) == 16, "conv_1ch_entry: one LDR and one LDM of three words");

/* r4-r8 the taps, r1 weights, r2 entries, r3 out, lr its end; r0 the accumulator, r12 the output. */
#define CONV_1CH_FUSED_LOOP(clamp)                                                                           \
    "1:\n\t"                                                                                                 \
    "ldr    r0, [r2], #4\n\t" /* bias */                                                                     \
    "ldm    r1!, {r9, r10, r11, r12}\n\t"                                                                    \
    "smlad  r0, r9, r4, r0\n\t"                                                                              \
    "smlad  r0, r10, r5, r0\n\t"                                                                             \
    "smlad  r0, r11, r6, r0\n\t"                                                                             \
    "smlad  r0, r12, r7, r0\n\t"                                                                             \
    "ldr    r9, [r1], #4\n\t"                                                                                \
    "smlad  r0, r9, r8, r0\n\t"                                                                              \
    "ldm    r2!, {r9, r10, r11}\n\t" /* multiplier, nudge with the offset, right */                          \
    "add    r0, r0, r0\n\t"                                                                                  \
    "smmulr r0, r0, r9\n\t"                                                                                  \
    "add    r12, r0, r10\n\t"                                                                                \
    "sub    r12, r12, r0, lsr #31\n\t"                                                                       \
    "asr    r12, r12, r11\n\t"                                                                               \
    "ssat   r12, #8, r12\n\t" clamp                                                                          \
    "strb   r12, [r3], #1\n\t"                                                                               \
    "cmp    r3, lr\n\t"                                                                                      \
    "bne    1b\n\t"

MUNIFY_ASM_FUNCTION conv_1ch_channels_fused(MUNIFY_ASM_ARG const conv_1ch_fused_state *state)
{
    __asm volatile("push   {r4-r11, lr}\n\t"
                   "ldm    r0, {r0, r1, r2, r3, lr}\n\t"
                   "ldm    r0, {r4, r5, r6, r7, r8}\n\t" CONV_1CH_FUSED_LOOP("")
                   "pop    {r4-r11, pc}\n\t");
}

/* The same with a lower activation bound above -128 (kept on the stack). */
MUNIFY_ASM_FUNCTION conv_1ch_channels_fused_min(MUNIFY_ASM_ARG const conv_1ch_fused_state *state)
{
    __asm volatile("push   {r4-r11, lr}\n\t"
                   "ldr    r4, [r0, #20]\n\t"
                   "push   {r4}\n\t"
                   "ldm    r0, {r0, r1, r2, r3, lr}\n\t"
                   "ldm    r0, {r4, r5, r6, r7, r8}\n\t" CONV_1CH_FUSED_LOOP(
                       "ldr    r9, [sp]\n\t" MUNIFY_DSP_MAX("r12", "r9"))
                   "add    sp, sp, #4\n\t"
                   "pop    {r4-r11, pc}\n\t");
}

MUNIFY_DSP_FN void conv_1ch_prepare_fused(const munify_dsp_conv *p, conv_1ch_entry *entries)
{
    for (int32_t c = 0; c < p->out_c; ++c) {
        int32_t index = c & p->q.channel_mask;
        int32_t right = -p->q.shift[index];
        entries[c].bias = p->bias[c];
        entries[c].multiplier = p->q.multiplier[index];
        entries[c].nudge = (int32_t)((1u << (right - 1)) + ((uint32_t)p->q.output_offset << right));
        entries[c].right = right;
    }
}
#endif

/* The taps of output pixel (oy, ox) into patch[0 .. 12): the input, or the zero point outside it; 0 past
 * the kernel's taps (their weights are 0). */
MUNIFY_DSP_FN void conv_1ch_patch(const munify_dsp_conv *p, const int8_t *input, int32_t oy, int32_t ox,
                                  int8_t *patch)
{
    int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left, t = 0;
    for (int32_t ky = 0; ky < p->kernel_h; ++ky) {
        int32_t iy = iy0 + ky * p->dilation_h;
        int32_t inside_row = iy >= 0 && iy < p->in_h;
        const int8_t *row = input + (inside_row ? iy : 0) * p->in_w; /* never a pointer outside the input */
        for (int32_t kx = 0; kx < p->kernel_w; ++kx, ++t) {
            int32_t ix = ix0 + kx * p->dilation_w;
            patch[t] = inside_row && ix >= 0 && ix < p->in_w ? row[ix] : (int8_t)p->pad_value;
        }
    }
    for (; t < MUNIFY_DSP_CONV_1CH_PATCH; ++t) {
        patch[t] = 0;
    }
}

static inline uint32_t conv_1ch_pair(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xFFFFu) | (uint32_t)hi << 16;
}

/* The widened taps of output pixel (oy, ox), word j at taps[j * step]: a 3x3 window inside the input straight
 * from its three rows, any other through the gathered patch. */
MUNIFY_DSP_FN void conv_1ch_taps(const munify_dsp_conv *p, const int8_t *input, int32_t oy, int32_t ox,
                                 int8_t *patch, uint32_t *taps, int32_t step)
{
    int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    int32_t window_3x3 = p->kernel_h == 3 && p->kernel_w == 3 && p->dilation_h == 1 && p->dilation_w == 1;
    if (window_3x3 && iy0 >= 0 && ix0 >= 0 && iy0 + 3 <= p->in_h && ix0 + 3 <= p->in_w) {
        const int8_t *r0 = input + iy0 * p->in_w + ix0, *r1 = r0 + p->in_w, *r2 = r1 + p->in_w;
        taps[0] = conv_1ch_pair(r0[0], r0[2]);
        taps[step] = conv_1ch_pair(r0[1], r1[0]);
        taps[2 * step] = conv_1ch_pair(r1[1], r2[0]);
        taps[3 * step] = conv_1ch_pair(r1[2], r2[1]);
        taps[4 * step] = conv_1ch_pair(r2[2], 0);
        return;
    }
    conv_1ch_patch(p, input, oy, ox, patch);
    if (step == 1) {
        munify_dsp_widen_pairs(patch, MUNIFY_DSP_CONV_1CH_PATCH, taps, 2);
        return;
    }
    uint32_t wide[MUNIFY_DSP_CONV_1CH_WORDS + 1];
    munify_dsp_widen_pairs(patch, MUNIFY_DSP_CONV_1CH_PATCH, wide, 2);
    for (int32_t j = 0; j < MUNIFY_DSP_CONV_1CH_WORDS; ++j) {
        taps[j * step] = wide[j];
    }
}

MUNIFY_DSP_FN int32_t munify_dsp_conv_1ch_scratch_size(const munify_dsp_conv *p)
{
    return (int32_t)(sizeof(munify_dsp_requant) + sizeof(int32_t)) * p->out_c + 6 * (int32_t)sizeof(uint32_t) +
           MUNIFY_DSP_CONV_1CH_PATCH;
}

MUNIFY_DSP_FN void munify_dsp_conv_1ch_s8(const munify_dsp_conv *p, const int8_t *input, int8_t *output,
                                          int16_t *scratch)
{
    munify_dsp_requant *requant = (munify_dsp_requant *)(void *)scratch;
    int32_t *acc = (int32_t *)(requant + p->out_c);
    uint32_t *taps = (uint32_t *)(acc + p->out_c);
    int8_t *patch = (int8_t *)(taps + 6);
    const munify_dsp_quant q = p->q; /* a local copy: the int8 output stores could alias p->q */
#if MUNIFY_DSP_REQUANT_FOLDED && !MUNIFY_DSP_SCALAR
    if (q.act_max == 127) { /* the entries fit where the requantization table would be */
        conv_1ch_prepare_fused(p, (conv_1ch_entry *)(void *)requant);
        conv_1ch_fused_state fused = {taps, (const int16_t *)(const void *)p->weights,
                                      (const conv_1ch_entry *)(void *)requant, output, output + p->out_c, q.act_min};
        for (int32_t oy = 0; oy < p->out_h; ++oy) {
            for (int32_t ox = 0; ox < p->out_w; ++ox, fused.out_end += p->out_c) {
                conv_1ch_taps(p, input, oy, ox, patch, taps, 1);
                if (q.act_min == -128) {
                    conv_1ch_channels_fused(&fused);
                } else {
                    conv_1ch_channels_fused_min(&fused);
                }
                fused.out += p->out_c;
            }
        }
        return;
    }
#endif
    int32_t simple = munify_dsp_prepare_requant(&q, p->out_c, requant);
    const conv_1ch_state state = {taps, (const int16_t *)(const void *)p->weights, p->bias, acc, p->out_c};
    int8_t *out = output;
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
        for (int32_t ox = 0; ox < p->out_w; ++ox, out += p->out_c) {
            conv_1ch_taps(p, input, oy, ox, patch, taps, 1);
            conv_1ch_channels(&state);
            munify_dsp_output_run(acc, requant, simple, &q, p->out_c, out);
        }
    }
}

/* ---- CONV_2D fused with the 2x2 / stride 2 MAX_POOL_2D after it (toolchain.plan.fusion) -------------------
 * Per pool window the four conv pixels' taps are widened into one interleaved buffer (word j of pixel k at
 * taps[4 * j + k]: one LDM gives a word of all four), and every channel runs its five weight words over the
 * four pixels with the accumulators in registers, keeps their maximum and requantizes it once. Exact because
 * the requantization (positive multiplier, right shifts only: the plan's condition) and both clamps are
 * non-decreasing in the accumulator. */
#define MUNIFY_DSP_CONV_1CH_WINDOW_WORDS (4 * MUNIFY_DSP_CONV_1CH_WORDS) /* the window's four patches widened */

typedef struct {
    const uint32_t *taps;    /* word j of pixel k at taps[4 * j + k] */
    const int16_t *weights;  /* layout dsp-conv1ch */
    const void *entries;     /* conv_1ch_window_max: int32 bias per channel; the folded loops: conv_1ch_entry */
    void *out;               /* conv_1ch_window_max: the int32 maximum per channel; the folded loops: int8 outputs */
    const void *out_end;     /* out + channels */
    int32_t act_min;
    int32_t first_bias;      /* conv_1ch_window_fused: channel 0's bias (the entries carry the next channel's) */
} conv_1ch_window_state;

_Static_assert(offsetof(conv_1ch_window_state, taps) == 0 && offsetof(conv_1ch_window_state, weights) == 4 &&
                   offsetof(conv_1ch_window_state, entries) == 8 && offsetof(conv_1ch_window_state, out) == 12 &&
                   offsetof(conv_1ch_window_state, out_end) == 16 && offsetof(conv_1ch_window_state, act_min) == 20 &&
                   offsetof(conv_1ch_window_state, first_bias) == 24,
               "conv_1ch_window_state: the window loops read these word offsets");

#if MUNIFY_DSP_SCALAR
/* The same-layout plain C path: out[c] = the maximum over the four pixels of bias[c] + weights . taps. */
MUNIFY_DSP_FN void conv_1ch_window_max(const conv_1ch_window_state *state)
{
    const int16_t *w = state->weights;
    const int32_t *bias = (const int32_t *)state->entries;
    int32_t *out = (int32_t *)state->out;
    for (int32_t c = 0; out + c != (const int32_t *)state->out_end; ++c, w += 2 * MUNIFY_DSP_CONV_1CH_WORDS) {
        int32_t best = 0;
        for (int32_t k = 0; k < 4; ++k) {
            int32_t a = bias[c];
            for (int32_t j = 0; j < 2 * MUNIFY_DSP_CONV_1CH_WORDS; ++j) {
                a += w[j] * (int16_t)(state->taps[4 * (j / 2) + k] >> (16 * (j % 2)));
            }
            best = k == 0 || a > best ? a : best;
        }
        out[c] = best;
    }
}
#else
/* r9 taps, r10 weights, r11 bias (or entries), r12 out, lr its end; r0-r3 the four pixels' accumulators, r4-r7
 * a tap word of the four pixels, r8 the weight word. Leaves the maximum in r0. */
#define CONV_1CH_WINDOW_WORD                                                                                 \
    "ldr    r8, [r10], #4\n\t"                                                                               \
    "ldm    r9!, {r4, r5, r6, r7}\n\t"                                                                       \
    "smlad  r0, r8, r4, r0\n\t"                                                                              \
    "smlad  r1, r8, r5, r1\n\t"                                                                              \
    "smlad  r2, r8, r6, r2\n\t"                                                                              \
    "smlad  r3, r8, r7, r3\n\t"
#define CONV_1CH_WINDOW_CHANNEL                                                                              \
    "ldr    r0, [r11], #4\n\t" /* bias */                                                                    \
    "ldr    r8, [r10], #4\n\t"                                                                               \
    "ldm    r9!, {r4, r5, r6, r7}\n\t"                                                                       \
    "smlad  r1, r8, r5, r0\n\t"                                                                              \
    "smlad  r2, r8, r6, r0\n\t"                                                                              \
    "smlad  r3, r8, r7, r0\n\t"                                                                              \
    "smlad  r0, r8, r4, r0\n\t" CONV_1CH_WINDOW_WORD CONV_1CH_WINDOW_WORD CONV_1CH_WINDOW_WORD               \
        CONV_1CH_WINDOW_WORD                                                                                 \
    "sub    r9, r9, #80\n\t"                                                                                 \
    MUNIFY_DSP_MAX4("r0", "r1", "r2", "r3")

_Static_assert(MUNIFY_DSP_CONV_1CH_WINDOW_WORDS * 4 == 80, "CONV_1CH_WINDOW_CHANNEL rewinds the taps by 80 bytes");

/* out[c] = the maximum of the four pixels' accumulators of channel c. */
MUNIFY_ASM_FUNCTION conv_1ch_window_max(MUNIFY_ASM_ARG const conv_1ch_window_state *state)
{
    __asm volatile("push   {r4-r11, lr}\n\t"
                   "ldm    r0, {r9, r10, r11, r12, lr}\n\t"
                   "1:\n\t" CONV_1CH_WINDOW_CHANNEL
                   "str    r0, [r12], #4\n\t"
                   "cmp    r12, lr\n\t"
                   "bne    1b\n\t"
                   "pop    {r4-r11, pc}\n\t");
}
#endif

#if MUNIFY_DSP_REQUANT_FOLDED && !MUNIFY_DSP_SCALAR
/* The window's entries: channel c's {multiplier, nudge + offset << right, right} and channel c + 1's bias (0
 * after the last), so that one LDM a channel loads the requantization and the next accumulators' start. */
typedef struct {
    int32_t multiplier;
    int32_t nudge;
    int32_t right;
    int32_t next_bias;
} conv_1ch_window_entry;

_Static_assert(sizeof(conv_1ch_window_entry) == sizeof(conv_1ch_entry), "the window entries reuse the entries' room");

MUNIFY_DSP_FN int32_t conv_1ch_prepare_window(const munify_dsp_conv *p, conv_1ch_window_entry *entries)
{
    for (int32_t c = 0; c < p->out_c; ++c) {
        int32_t index = c & p->q.channel_mask;
        int32_t right = -p->q.shift[index];
        entries[c].multiplier = p->q.multiplier[index];
        entries[c].nudge = (int32_t)((1u << (right - 1)) + ((uint32_t)p->q.output_offset << right));
        entries[c].right = right;
        entries[c].next_bias = c + 1 < p->out_c ? p->bias[c + 1] : 0;
    }
    return p->bias[0];
}

/* A channel of the window with its bias in r7: the first tap word of the four pixels into r0-r3, multiplied
 * and accumulated onto the bias in place; then as CONV_1CH_WINDOW_CHANNEL. */
#define CONV_1CH_WINDOW_FUSED_CHANNEL                                                                        \
    "ldr    r8, [r10], #4\n\t"                                                                               \
    "ldm    r9!, {r0, r1, r2, r3}\n\t"                                                                       \
    "smlad  r0, r8, r0, r7\n\t"                                                                              \
    "smlad  r1, r8, r1, r7\n\t"                                                                              \
    "smlad  r2, r8, r2, r7\n\t"                                                                              \
    "smlad  r3, r8, r3, r7\n\t" CONV_1CH_WINDOW_WORD CONV_1CH_WINDOW_WORD CONV_1CH_WINDOW_WORD               \
        CONV_1CH_WINDOW_WORD                                                                                 \
    "sub    r9, r9, #80\n\t"                                                                                 \
    MUNIFY_DSP_MAX4("r0", "r1", "r2", "r3")

/* The folded requantization of conv_1ch_channels_fused on the window's maximum (r0), the output in r1; r11
 * walks the window entries (r7: the next channel's bias). */
#define CONV_1CH_WINDOW_FUSED_LOOP(clamp)                                                                    \
    "1:\n\t" CONV_1CH_WINDOW_FUSED_CHANNEL                                                                   \
    "ldm    r11!, {r4, r5, r6, r7}\n\t" /* multiplier, nudge with the offset, right, next bias */            \
    "add    r0, r0, r0\n\t"                                                                                  \
    "smmulr r0, r0, r4\n\t"                                                                                  \
    "add    r1, r0, r5\n\t"                                                                                  \
    "sub    r1, r1, r0, lsr #31\n\t"                                                                         \
    "asr    r1, r1, r6\n\t"                                                                                  \
    "ssat   r1, #8, r1\n\t" clamp                                                                            \
    "strb   r1, [r12], #1\n\t"                                                                               \
    "cmp    r12, lr\n\t"                                                                                     \
    "bne    1b\n\t"

MUNIFY_ASM_FUNCTION conv_1ch_window_fused(MUNIFY_ASM_ARG const conv_1ch_window_state *state)
{
    __asm volatile("push   {r4-r11, lr}\n\t"
                   "ldr    r7, [r0, #24]\n\t"
                   "ldm    r0, {r9, r10, r11, r12, lr}\n\t" CONV_1CH_WINDOW_FUSED_LOOP("")
                   "pop    {r4-r11, pc}\n\t");
}

/* The same with a lower activation bound above -128 (kept on the stack). */
MUNIFY_ASM_FUNCTION conv_1ch_window_fused_min(MUNIFY_ASM_ARG const conv_1ch_window_state *state)
{
    __asm volatile("push   {r4-r11, lr}\n\t"
                   "ldrd   r4, r7, [r0, #20]\n\t" /* act_min, first bias */
                   "push   {r4}\n\t"
                   "ldm    r0, {r9, r10, r11, r12, lr}\n\t" CONV_1CH_WINDOW_FUSED_LOOP(
                       "ldr    r8, [sp]\n\t" MUNIFY_DSP_MAX("r1", "r8"))
                   "add    sp, sp, #4\n\t"
                   "pop    {r4-r11, pc}\n\t");
}
#endif

MUNIFY_DSP_FN int32_t munify_dsp_conv_1ch_pool_scratch_size(const munify_dsp_conv *p)
{
    return (int32_t)(sizeof(munify_dsp_requant) + sizeof(int32_t)) * p->out_c +
           MUNIFY_DSP_CONV_1CH_WINDOW_WORDS * (int32_t)sizeof(uint32_t) + MUNIFY_DSP_CONV_1CH_PATCH;
}

/* A 3x3 / stride 1 window whose 4 x 4 input block (from `at`) lies inside the input: the four pixels' taps
 * from four words of it. Row r widened once, e[r] = (x0, x2) and o[r] = (x1, x3); pixel (dy, dx) takes rows
 * a, b, c = dy, dy + 1, dy + 2 and, for dx 1, the odd words where dx 0 takes the even ones. The plain C
 * definition (MUNIFY_DSP_SCALAR); the assembly below makes the same words. */
#if MUNIFY_DSP_SCALAR
MUNIFY_DSP_FN void conv_1ch_window_taps_inside(const int8_t *at, int32_t in_w, uint32_t *taps)
{
    uint32_t e[4], o[4];
    for (int32_t r = 0; r < 4; ++r) {
        uint32_t w = munify_dsp_load_word(at + r * in_w);
        e[r] = __sxtb16(w);
        o[r] = __sxtb16(munify_dsp_ror8(w));
    }
    for (int32_t dy = 0; dy < 2; ++dy) {
        uint32_t ea = e[dy], eb = e[dy + 1], ec = e[dy + 2], oa = o[dy], ob = o[dy + 1], oc = o[dy + 2];
        uint32_t *left = taps + 2 * dy, *right = left + 1; /* word j of pixel k at taps[4 * j + k] */
        left[0] = ea;                                /* (a0, a2) */
        left[4] = (oa & 0xFFFFu) | eb << 16;         /* (a1, b0) */
        left[8] = (ob & 0xFFFFu) | ec << 16;         /* (b1, c0) */
        left[12] = eb >> 16 | oc << 16;              /* (b2, c1) */
        left[16] = ec >> 16;                         /* (c2, 0) */
        right[0] = oa;                               /* (a1, a3) */
        right[4] = ea >> 16 | ob << 16;              /* (a2, b1) */
        right[8] = eb >> 16 | oc << 16;              /* (b2, c1) */
        right[12] = ob >> 16 | (ec & 0xFFFF0000u);   /* (b3, c2) */
        right[16] = oc >> 16;                        /* (c3, 0) */
    }
}

#else
/* e0-e3 in r4, r6, r8, r10, o0-o3 in r5, r7, r9, r11; word j of the four pixels built in r1, r2, r3, r12 and
 * stored with one STM (pixels (0,0) (0,1) (1,0) (1,1) at taps[4 * j + k]). X = (e1 hi, o2 lo), Y = (e2 hi,
 * o3 lo) serve three words each. 41 instructions where the C took about 75. */
MUNIFY_ASM_FUNCTION conv_1ch_window_taps_inside(MUNIFY_ASM_ARG const int8_t *at, MUNIFY_ASM_ARG int32_t in_w,
                                                MUNIFY_ASM_ARG uint32_t *taps)
{
    __asm volatile("push   {r4-r11}\n\t"
                   "ldr    r4, [r0]\n\t" /* unaligned word loads: these cores allow them */
                   "ldr    r6, [r0, r1]\n\t"
                   "add    r0, r0, r1, lsl #1\n\t"
                   "ldr    r8, [r0]\n\t"
                   "ldr    r10, [r0, r1]\n\t"
                   "mov    r0, r2\n\t"
                   "sxtb16 r5, r4, ror #8\n\t" "sxtb16 r4, r4\n\t"
                   "sxtb16 r7, r6, ror #8\n\t" "sxtb16 r6, r6\n\t"
                   "sxtb16 r9, r8, ror #8\n\t" "sxtb16 r8, r8\n\t"
                   "sxtb16 r11, r10, ror #8\n\t" "sxtb16 r10, r10\n\t"
                   "stm    r0!, {r4, r5, r6, r7}\n\t" /* (a0, a2) (a1, a3) of rows 0 and 1 */
                   "pkhbt  r1, r5, r6, lsl #16\n\t"   /* (o0 lo, e1 lo) */
                   "lsr    r2, r4, #16\n\t"
                   "pkhbt  r2, r2, r7, lsl #16\n\t"   /* (e0 hi, o1 lo) */
                   "pkhbt  r3, r7, r8, lsl #16\n\t"   /* (o1 lo, e2 lo) */
                   "lsr    r12, r6, #16\n\t"
                   "pkhbt  r12, r12, r9, lsl #16\n\t" /* X */
                   "stm    r0!, {r1, r2, r3, r12}\n\t"
                   "mov    r1, r3\n\t"
                   "mov    r2, r12\n\t"
                   "pkhbt  r3, r9, r10, lsl #16\n\t"  /* (o2 lo, e3 lo) */
                   "lsr    r12, r8, #16\n\t"
                   "pkhbt  r12, r12, r11, lsl #16\n\t" /* Y */
                   "stm    r0!, {r1, r2, r3, r12}\n\t"
                   "mov    r1, r2\n\t"
                   "pkhtb  r2, r8, r7, asr #16\n\t"   /* (o1 hi, e2 hi) */
                   "mov    r3, r12\n\t"
                   "pkhtb  r12, r10, r9, asr #16\n\t" /* (o2 hi, e3 hi) */
                   "stm    r0!, {r1, r2, r3, r12}\n\t"
                   "lsr    r1, r8, #16\n\t"
                   "lsr    r2, r9, #16\n\t"
                   "lsr    r3, r10, #16\n\t"
                   "lsr    r12, r11, #16\n\t"
                   "stm    r0!, {r1, r2, r3, r12}\n\t"
                   "pop    {r4-r11}\n\t"
                   "bx     lr\n\t");
}
#endif

/* The four taps of pool window (py, px) into the interleaved buffer. */
MUNIFY_DSP_FN void conv_1ch_window_taps(const munify_dsp_conv *p, const int8_t *input, int32_t py, int32_t px,
                                        int8_t *patch, uint32_t *taps)
{
    int32_t iy0 = 2 * py - p->pad_top, ix0 = 2 * px - p->pad_left;
    int32_t window_3x3 = p->kernel_h == 3 && p->kernel_w == 3 && p->dilation_h == 1 && p->dilation_w == 1 &&
                         p->stride_h == 1 && p->stride_w == 1;
    if (window_3x3 && iy0 >= 0 && ix0 >= 0 && iy0 + 4 <= p->in_h && ix0 + 4 <= p->in_w) {
        conv_1ch_window_taps_inside(input + iy0 * p->in_w + ix0, p->in_w, taps);
        return;
    }
    if (window_3x3) { /* at the border: the 4 x 4 block gathered, the zero point where it leaves the input */
        int8_t block[16];
        int32_t first = ix0 < 0 ? -ix0 : 0, end = ix0 + 4 > p->in_w ? p->in_w - ix0 : 4; /* columns inside */
        for (int32_t r = 0; r < 4; ++r) {
            int32_t iy = iy0 + r;
            if (iy < 0 || iy >= p->in_h) {
                for (int32_t c = 0; c < 4; ++c) {
                    block[4 * r + c] = (int8_t)p->pad_value;
                }
                continue;
            }
            const int8_t *row = input + iy * p->in_w;
            for (int32_t c = 0; c < 4; ++c) {
                block[4 * r + c] = c >= first && c < end ? row[ix0 + c] : (int8_t)p->pad_value;
            }
        }
        conv_1ch_window_taps_inside(block, 4, taps);
        return;
    }
    for (int32_t k = 0; k < 4; ++k) {
        conv_1ch_taps(p, input, 2 * py + (k >> 1), 2 * px + (k & 1), patch, taps + k, 4);
    }
}

/* Output [pool_h, pool_w, out_c]: the pool of the conv's output, pixels the pool does not read never computed. */
MUNIFY_DSP_FN void munify_dsp_conv_1ch_pool_s8(const munify_dsp_conv *p, int32_t pool_h, int32_t pool_w,
                                               const int8_t *input, int8_t *output, int16_t *scratch)
{
    munify_dsp_requant *requant = (munify_dsp_requant *)(void *)scratch;
    int32_t *acc = (int32_t *)(requant + p->out_c);
    uint32_t *taps = (uint32_t *)(acc + p->out_c);
    int8_t *patch = (int8_t *)(taps + MUNIFY_DSP_CONV_1CH_WINDOW_WORDS);
    const munify_dsp_quant q = p->q; /* a local copy: the int8 output stores could alias p->q */
    const int16_t *weights = (const int16_t *)(const void *)p->weights;
#if MUNIFY_DSP_REQUANT_FOLDED && !MUNIFY_DSP_SCALAR
    if (q.act_max == 127) { /* the entries fit where the requantization table would be */
        int32_t first_bias = conv_1ch_prepare_window(p, (conv_1ch_window_entry *)(void *)requant);
        conv_1ch_window_state fused = {taps, weights, requant, output, output + p->out_c, q.act_min, first_bias};
        for (int32_t py = 0; py < pool_h; ++py) {
            for (int32_t px = 0; px < pool_w; ++px) {
                conv_1ch_window_taps(p, input, py, px, patch, taps);
                if (q.act_min == -128) {
                    conv_1ch_window_fused(&fused);
                } else {
                    conv_1ch_window_fused_min(&fused);
                }
                fused.out = (int8_t *)fused.out + p->out_c;
                fused.out_end = (const int8_t *)fused.out_end + p->out_c;
            }
        }
        return;
    }
#endif
    int32_t simple = munify_dsp_prepare_requant(&q, p->out_c, requant);
    const conv_1ch_window_state state = {taps, weights, p->bias, acc, acc + p->out_c, q.act_min, 0};
    int8_t *out = output;
    for (int32_t py = 0; py < pool_h; ++py) {
        for (int32_t px = 0; px < pool_w; ++px, out += p->out_c) {
            conv_1ch_window_taps(p, input, py, px, patch, taps);
            conv_1ch_window_max(&state);
            munify_dsp_output_run(acc, requant, simple, &q, p->out_c, out);
        }
    }
}

#endif
