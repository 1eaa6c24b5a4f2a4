/* CONV_2D with 1 x 4, 1 x 8 and 1 x 16 blocks (packed as two 1 x 8 blocks), four output pixels at a time: every
 * block serves four im2col columns (a dense block's weight words are loaded and widened once for the four, a
 * unified block's record fetched once).
 * The widened columns are interleaved per group of 4 inputs: A (x0,x2) (x1,x3), B ..., C ..., D ...; the
 * unsigned columns per block column: A[bi] B[bi] C[bi] D[bi], so one LDM loads two pixels' inputs of a block.
 *
 * One assembly pass runs every row: its dense blocks (int16 weights in dsp-blocks-wide16, `--optimize speed`: no
 * SXTB16) and then its unified records with the four accumulators kept in registers. The weights are one row
 * stream (row_stream: each row's dense blocks, then its records), so one pointer walks all rows; a row head in
 * scratch holds the row's flags (dense blocks, records) and its accumulators' start, and an end head follows
 * the last row. Mask bytes (dsp-blocks-wide): a record is column | last << 15 | magnitude << 16 and the masks,
 * one LDM. Sign bits (dsp-blocks-bits): a record is one word, signs | step << 8 | last << 15 | magnitude << 16,
 * the step in block columns from the row's previous unified block; the masks come from munify_dsp_sign_masks.
 * Every loop but the table records' ends on bit 15 of the row's last column or record (the carry of an LSLS),
 * so none keeps a counter. Layouts and the plain C path: munify_dsp_blocks_scalar.h. */
#ifndef MUNIFY_DSP_CONV_BLOCKS_1XN_S8_H
#define MUNIFY_DSP_CONV_BLOCKS_1XN_S8_H

#define MUNIFY_DSP_BLOCKS_CONV_COLUMNS 4
#define MUNIFY_DSP_ROW_STREAM 1 /* row_stream, not dense_cols, dense_weights, unified_records */
/* A row head: the row's flags word (BLOCKS_HEAD_*), then bias + unified_bias four times (the four pixels'
 * accumulators start there): one LDM a row; one more head (BLOCKS_HEAD_END) after the last row. */
#define MUNIFY_DSP_BLOCKS_ROW_WORDS 5
#define MUNIFY_DSP_BLOCKS_ROW_BYTES (4 * MUNIFY_DSP_BLOCKS_ROW_WORDS)
#define MUNIFY_DSP_SIGN_RECORDS MUNIFY_DSP_SIGN_BITS
#if defined(MUNIFY_DSP_TABLE_RECORDS) && MUNIFY_DSP_TABLE_RECORDS && MUNIFY_DSP_SIGN_BITS
#error "table records (dsp-blocks-table) come with mask bytes: MUNIFY_DSP_SIGN_BITS 0"
#endif
#define MUNIFY_DSP_LAYOUT_BI (MUNIFY_DSP_BI == 16 ? 8 : MUNIFY_DSP_BI)
#ifndef MUNIFY_DSP_REQUANT_FOLDED
#define MUNIFY_DSP_REQUANT_FOLDED 0
#endif
#include "munify_dsp_blocks_common.h"

#if MUNIFY_DSP_BO != 1
#error "munify_dsp_conv_blocks_1xn_s8.h is for 1 x bi blocks"
#endif

/* A rows pass's arguments; the pass keeps the last five on its stack (sp: widened, acc, row heads, records
 * base, sign masks) and the stream pointer in r1 from row to row. */
typedef struct {
    const uint32_t *stream;      /* row_stream: every row's dense blocks, then its records */
    const uint32_t *widened;     /* the four widened columns */
    int32_t *acc;                /* the row's four accumulators (pixels a, b, c, d); the next row's follow */
    const int32_t *row_heads;    /* MUNIFY_DSP_BLOCKS_ROW_WORDS a row, then the end head (blocks_row_heads) */
    const uint8_t *records_base; /* the unsigned columns (+ BLOCKS_QUAD_RECORDS_OFFSET) or the tables */
    const uint32_t *sign_masks;  /* munify_dsp_sign_masks */
} blocks_quad_state;

_Static_assert(offsetof(blocks_quad_state, stream) == 0 && offsetof(blocks_quad_state, widened) == 4 &&
                   offsetof(blocks_quad_state, acc) == 8 && offsetof(blocks_quad_state, row_heads) == 12 &&
                   offsetof(blocks_quad_state, records_base) == 16 && offsetof(blocks_quad_state, sign_masks) == 20,
               "blocks_quad_state: blocks_rows_quad reads these word offsets");

/* A row head's first word (blocks_row_heads): LSLS #31 puts "dense blocks" in C and "records" in N; the end
 * head after the last row has neither, and bit 2 (LSLS #30: C). */
#define BLOCKS_HEAD_RECORDS 1
#define BLOCKS_HEAD_DENSE 2
#define BLOCKS_HEAD_END 4
#define BLOCKS_HEAD_COLUMNS 16 /* int8 weights: the bits from here, the bytes of the row's column halfwords */
_Static_assert(BLOCKS_HEAD_COLUMNS == 16, "BLOCKS_DENSE_START shifts the head word right by 16");

/* 4 inputs of a dense block for 4 pixels: w02/w13 the weights (w0, w2) (w1, w3) as int16 pairs, r8 the widened
 * groups. */
#define BLOCKS_QUAD_MACS(w02, w13)                                                                           \
    "ldm    r8!, {r9, r10, r11, r12}\n\t" "smlad  r4, " w02 ", r9, r4\n\t" "smlad  r4, " w13 ", r10, r4\n\t"    \
    "smlad  r5, " w02 ", r11, r5\n\t" "smlad  r5, " w13 ", r12, r5\n\t" "ldm    r8!, {r9, r10, r11, r12}\n\t"  \
    "smlad  r6, " w02 ", r9, r6\n\t" "smlad  r6, " w13 ", r10, r6\n\t" "smlad  r7, " w02 ", r11, r7\n\t"      \
    "smlad  r7, " w13 ", r12, r7\n\t"
/* The same for pixel a alone (its two words of the group, then past B, C, D). */
#define BLOCKS_SINGLE_MACS(w02, w13)                                                                         \
    "ldrd   r9, r10, [r8], #32\n\t" "smlad  r4, " w02 ", r9, r4\n\t" "smlad  r4, " w13 ", r10, r4\n\t"
/* The dense blocks of a row from the stream (r1); r8 = a block's widened groups (r2 + column * 8), the carry its
 * last flag. int16 weights (dsp-blocks-wide16, stored in SXTB16 order): one LDM loads a block's column word (r0)
 * and its first weights. int8 weights: the row's column halfwords come first (r0 walks them), its head word
 * carries their bytes (BLOCKS_HEAD_COLUMNS), r1 the weights; each weight word is widened here. */
#define BLOCKS_DENSE_COLUMN "lsls   r8, r0, #17\n\t" "add    r8, r2, r8, lsr #14\n\t"
#define BLOCKS_DENSE_HALFWORD "ldrh   r8, [r0], #2\n\t" "lsls   r8, r8, #17\n\t" "add    r8, r2, r8, lsr #14\n\t"
#define BLOCKS_DENSE_INT8(macs) "ldr    r3, [r1], #4\n\t" "sxtb16 lr, r3\n\t" "sxtb16 r3, r3, ror #8\n\t" macs("lr", "r3")
#if MUNIFY_DSP_DENSE16
#define BLOCKS_DENSE_START ""
#if MUNIFY_DSP_LAYOUT_BI == 4
#define BLOCKS_DENSE_BLOCK(macs) "ldm    r1!, {r0, r3, lr}\n\t" BLOCKS_DENSE_COLUMN macs("r3", "lr")
#else
#define BLOCKS_DENSE_BLOCK(macs)                                                                             \
    "ldm    r1!, {r0, r3, lr}\n\t" BLOCKS_DENSE_COLUMN macs("r3", "lr") "ldrd   r3, lr, [r1], #8\n\t" macs("r3", "lr")
#endif
#else
#define BLOCKS_DENSE_START "add    r1, r1, r0, lsr #16\n\t" "sub    r0, r1, r0, lsr #16\n\t" /* columns, weights */
#if MUNIFY_DSP_LAYOUT_BI == 4
#define BLOCKS_DENSE_BLOCK(macs) BLOCKS_DENSE_HALFWORD BLOCKS_DENSE_INT8(macs)
#else
#define BLOCKS_DENSE_BLOCK(macs) BLOCKS_DENSE_HALFWORD BLOCKS_DENSE_INT8(macs) BLOCKS_DENSE_INT8(macs)
#endif
#endif

/* One unified record for four pixels: r1 = the stream, r2 = the unsigned columns (sign records: the running
 * block pointer), lr = munify_dsp_sign_masks; r8 the record word (its top half the magnitude), r9/r10 the
 * masks, r0, r3, r11, r12 the inputs of two (1 x 8) or four (1 x 4) pixels at a time. */
#define BLOCKS_QUAD_PIXEL8(lo, hi, acc)                                                                      \
    "usad8  " lo ", " lo ", r9\n\t" "usada8 " lo ", " hi ", r10, " lo "\n\t" "smlabt " acc ", " lo ", r8, " acc "\n\t"
#define BLOCKS_QUAD_PIXEL4(x, acc) "usad8  " x ", " x ", r9\n\t" "smlabt " acc ", " x ", r8, " acc "\n\t"
#define BLOCKS_QUAD_PIXELS4                                                                                  \
    BLOCKS_QUAD_PIXEL4("r0", "r4") BLOCKS_QUAD_PIXEL4("r3", "r5") BLOCKS_QUAD_PIXEL4("r11", "r6")               \
    BLOCKS_QUAD_PIXEL4("r12", "r7")
#if MUNIFY_DSP_SIGN_BITS
/* r2 += step * 4 * bi; 1 x 8: r2 runs 16 bytes into the block, so LDMDB loads pixels a, b and LDM c, d. */
#define BLOCKS_QUAD_STEP(shift)                                                                              \
    "ldr    r8, [r1], #4\n\t" "ubfx   r3, r8, #8, #7\n\t" "add    r2, r2, r3, lsl #" shift "\n\t"
#define BLOCKS_QUAD_END "lsls   r0, r8, #17\n\t"
#if MUNIFY_DSP_LAYOUT_BI == 4
#define BLOCKS_QUAD_RECORDS_OFFSET 0
#define BLOCKS_QUAD_RECORD                                                                                   \
    BLOCKS_QUAD_STEP("4") "uxtb   r9, r8\n\t" "ldr    r9, [lr, r9, lsl #3]\n\t" "ldm    r2, {r0, r3, r11, r12}\n\t"  \
    BLOCKS_QUAD_PIXELS4 BLOCKS_QUAD_END
#else
#define BLOCKS_QUAD_RECORDS_OFFSET 16 /* r2 runs 16 bytes into the block */
#define BLOCKS_QUAD_RECORD                                                                                   \
    BLOCKS_QUAD_STEP("5") "uxtb   r9, r8\n\t" "add    r9, lr, r9, lsl #3\n\t" "ldrd   r9, r10, [r9]\n\t"             \
    "ldmdb  r2, {r0, r3, r11, r12}\n\t" BLOCKS_QUAD_PIXEL8("r0", "r3", "r4") BLOCKS_QUAD_PIXEL8("r11", "r12", "r5") \
    "ldm    r2, {r0, r3, r11, r12}\n\t" BLOCKS_QUAD_PIXEL8("r0", "r3", "r6") BLOCKS_QUAD_PIXEL8("r11", "r12", "r7") \
    BLOCKS_QUAD_END
#endif
#else
/* Table records (mask-byte layout): r2 = the tables, r0 = the row's records; r8 (and r11) the record, r9/r10 the
 * table entry of the four pixels (a | b << 16, c | d << 16); 1 x 8 takes r3 for the second record of a pair. */
#define BLOCKS_TABLE_MULTIPLY(rec, bottom, top)                                                              \
    "smla" bottom "" top " r4, r9, " rec ", r4\n\t" "smlat" top " r5, r9, " rec ", r5\n\t"                       \
    "smla" bottom "" top " r6, r10, " rec ", r6\n\t" "smlat" top " r7, r10, " rec ", r7\n\t"
#if MUNIFY_DSP_LAYOUT_BI == 4
#define BLOCKS_TABLE_ENTRY4(rec) "uxtah  lr, r2, " rec "\n\t" "ldrd   r9, r10, [lr]\n\t" BLOCKS_TABLE_MULTIPLY(rec, "b", "t")
#define BLOCKS_TABLE_RECORD "ldr    r8, [r1], #4\n\t" BLOCKS_TABLE_ENTRY4("r8")
#define BLOCKS_TABLE_RECORDS2 "ldm    r1!, {r8, r11}\n\t" BLOCKS_TABLE_ENTRY4("r8") BLOCKS_TABLE_ENTRY4("r11")
#else
/* 1 x 8: `offsets` the record's offset word, r11 its magnitude (`half` of r11: b or t) */
#define BLOCKS_TABLE_ENTRY8(offsets, half)                                                                   \
    "uxtah  lr, r2, " offsets "\n\t" "add    " offsets ", r2, " offsets ", lsr #16\n\t" "ldrd   r9, r10, [lr]\n\t"   \
    "ldrd   lr, r12, [" offsets "]\n\t" "sadd16 r9, r9, lr\n\t" "sadd16 r10, r10, r12\n\t"                       \
    BLOCKS_TABLE_MULTIPLY("r11", "b", half)
#define BLOCKS_TABLE_RECORD "ldm    r1!, {r8, r11}\n\t" BLOCKS_TABLE_ENTRY8("r8", "b")
/* two records from one LDM (offsets, offsets', m | m' << 16): r3 holds the first's, the state comes back after */
#define BLOCKS_TABLE_RECORDS2                                                                                \
    "ldm    r1!, {r3, r8, r11}\n\t" BLOCKS_TABLE_ENTRY8("r3", "b") BLOCKS_TABLE_ENTRY8("r8", "t")
#endif
/* Two records a pass (an odd count starts with one); none of them sets the flags. */
#define BLOCKS_TABLE_LOOP                                                                                    \
    "lsrs   r0, r0, #1\n\t" "bcc    5f\n\t" BLOCKS_TABLE_RECORD "beq    6f\n\t"                                  \
    "5:\n\t" BLOCKS_TABLE_RECORDS2 "subs   r0, r0, #1\n\t" "bne    5b\n\t" "6:\n\t"
#define BLOCKS_QUAD_RECORD_INPUT "lsls   r3, r8, #17\n\t" "add    r3, r2, r3, lsr #15\n\t"
#if MUNIFY_DSP_LAYOUT_BI == 4
#define BLOCKS_QUAD_RECORD                                                                                   \
    "ldm    r1!, {r8, r9}\n\t" BLOCKS_QUAD_RECORD_INPUT "ldm    r3, {r0, r3, r11, r12}\n\t" BLOCKS_QUAD_PIXELS4
#else
#define BLOCKS_QUAD_RECORD                                                                                   \
    "ldm    r1!, {r8, r9, r10}\n\t" BLOCKS_QUAD_RECORD_INPUT "ldm    r3!, {r0, r11, r12, lr}\n\t"                \
    BLOCKS_QUAD_PIXEL8("r0", "r11", "r4") BLOCKS_QUAD_PIXEL8("r12", "lr", "r5")                                  \
    "ldm    r3, {r0, r3, r11, r12}\n\t" BLOCKS_QUAD_PIXEL8("r0", "r3", "r6") BLOCKS_QUAD_PIXEL8("r11", "r12", "r7")
#endif
#endif

#ifndef BLOCKS_QUAD_RECORDS_OFFSET
#define BLOCKS_QUAD_RECORDS_OFFSET 0
#endif
/* A row's records (>= 1) after its dense blocks, the accumulators in r4-r7: r2 = the records base from the stack
 * (sign records: and lr = the sign masks); table records are counted, the others end on the last flag. */
#if MUNIFY_DSP_TABLE_RECORDS
#define BLOCKS_RECORDS_START "ldr    r2, [sp, #12]\n\t" "ldr    r0, [r1], #4\n\t" /* the tables, the count */
#define BLOCKS_QUAD_RECORDS BLOCKS_RECORDS_START BLOCKS_TABLE_LOOP
#else
#if MUNIFY_DSP_SIGN_BITS
#define BLOCKS_RECORDS_START "ldrd   r2, lr, [sp, #12]\n\t"
#else
#define BLOCKS_RECORDS_START "ldr    r2, [sp, #12]\n\t"
#endif
#define BLOCKS_QUAD_RECORDS BLOCKS_RECORDS_START "3:\n\t" BLOCKS_QUAD_RECORD "bcc    3b\n\t"
#endif

/* Stores the row's accumulators and loads the next row's head (r0 its flags, r4-r7 the accumulators' start);
 * r2 = the widened columns again. */
#define BLOCKS_QUAD_ROW_END                                                                                  \
    "ldm    sp, {r2, r8, r9}\n\t" /* widened, acc, row heads */                                             \
    "stm    r8!, {r4, r5, r6, r7}\n\t" "ldm    r9!, {r0, r4, r5, r6, r7}\n\t" "strd   r8, r9, [sp, #4]\n\t"
#define BLOCKS_QUAD_FIRST_HEAD "ldm    r9!, {r0, r4, r5, r6, r7}\n\t" "str    r9, [sp, #8]\n\t"

/* The rows of a pass, one stream: a row head's flags pick one of two dense loops (then records, or not), the
 * records alone or neither; the end head leaves. The dense loops run until the column with bit 15 set (LSLS puts
 * it in the carry). r1 walks the stream from row to row; the rest is on the stack. */
#define BLOCKS_ROWS_NEXT "lsls   r8, r0, #31\n\t" "bcc    9f\n\t" "bmi    0b\n\t"
#define BLOCKS_ROWS_PASS(first_head, dense, records, row_end)                                                \
    "push   {r4-r11, lr}\n\t"                                                                                \
    "ldm    r0, {r1, r2, r3, r9, r10, r11}\n\t" /* stream, widened, acc, heads, records base, sign masks */ \
    "push   {r2, r3, r9, r10, r11}\n\t" first_head                                                           \
    "lsls   r8, r0, #31\n\t" "bcc    9f\n\t" "bpl    7f\n\t"                                                  \
    "0:\n\t" BLOCKS_DENSE_START "1:\n\t" dense "bcc    1b\n\t"                                              \
    "2:\n\t" records                                                                                          \
    "4:\n\t" row_end BLOCKS_ROWS_NEXT                                                                         \
    "7:\n\t" BLOCKS_DENSE_START "8:\n\t" dense "bcc    8b\n\t" row_end BLOCKS_ROWS_NEXT "b      7b\n\t"         \
    "9:\n\t" "bmi    2b\n\t" "lsls   r8, r0, #30\n\t" "bcc    4b\n\t" /* no dense blocks: records, neither, end */ \
    "add    sp, sp, #20\n\t" "pop    {r4-r11, pc}\n\t"

/* For every row (>= 1): the four pixels' bias + unified_bias + dense blocks + unified records. */
MUNIFY_ASM_FUNCTION blocks_rows_quad(MUNIFY_ASM_ARG const blocks_quad_state *state)
{
    __asm volatile(BLOCKS_ROWS_PASS(BLOCKS_QUAD_FIRST_HEAD, BLOCKS_DENSE_BLOCK(BLOCKS_QUAD_MACS), BLOCKS_QUAD_RECORDS,
                                    BLOCKS_QUAD_ROW_END));
}


/* A quad with one real pixel (the layer's last, when the pixels are 1 more than a multiple of 4) runs its rows
 * for pixel a alone: a 1 x 8 dense block 11 instructions instead of 25 (int16 weights), a mask-byte record 9
 * instead of 18, a table record 6.5 instead of 10.5 (only the a | b word of its entries). Same state and layout
 * as blocks_rows_quad; the row's accumulator goes to the quad's first slot (acc + 4 * row). */
#if MUNIFY_DSP_SIGN_BITS
/* r2 the running block pointer (pixel a's inputs at its start), lr = munify_dsp_sign_masks */
#define BLOCKS_SINGLE_STEP(shift)                                                                            \
    "ldr    r8, [r1], #4\n\t" "ubfx   r12, r8, #8, #7\n\t" "add    r2, r2, r12, lsl #" shift "\n\t"
#if MUNIFY_DSP_LAYOUT_BI == 4
#define BLOCKS_SINGLE_RECORD                                                                                 \
    BLOCKS_SINGLE_STEP("4") "uxtb   r9, r8\n\t" "ldr    r9, [lr, r9, lsl #3]\n\t" "ldr    r0, [r2]\n\t"           \
    "usad8  r0, r0, r9\n\t" "smlabt r4, r0, r8, r4\n\t" "lsls   r0, r8, #17\n\t"
#else
#define BLOCKS_SINGLE_RECORD                                                                                 \
    BLOCKS_SINGLE_STEP("5") "uxtb   r9, r8\n\t" "add    r9, lr, r9, lsl #3\n\t" "ldrd   r9, r10, [r9]\n\t"        \
    "ldrd   r0, r11, [r2]\n\t" "usad8  r0, r0, r9\n\t" "usada8 r0, r11, r10, r0\n\t" "smlabt r4, r0, r8, r4\n\t" \
    "lsls   r0, r8, #17\n\t"
#endif
#elif MUNIFY_DSP_TABLE_RECORDS
/* Table records, counted as in BLOCKS_TABLE_LOOP; r2 = the tables, r9/r10 the a | b words of an entry */
#if MUNIFY_DSP_LAYOUT_BI == 4
#define BLOCKS_SINGLE_ENTRY4(rec) "uxtah  lr, r2, " rec "\n\t" "ldr    r9, [lr]\n\t" "smlabt r4, r9, " rec ", r4\n\t"
#define BLOCKS_SINGLE_TABLE_RECORD "ldr    r8, [r1], #4\n\t" BLOCKS_SINGLE_ENTRY4("r8")
#define BLOCKS_SINGLE_TABLE_RECORDS2 "ldm    r1!, {r8, r11}\n\t" BLOCKS_SINGLE_ENTRY4("r8") BLOCKS_SINGLE_ENTRY4("r11")
#else
#define BLOCKS_SINGLE_ENTRY8(offsets, half)                                                                  \
    "uxtah  lr, r2, " offsets "\n\t" "add    " offsets ", r2, " offsets ", lsr #16\n\t" "ldr    r9, [lr]\n\t"        \
    "ldr    r10, [" offsets "]\n\t" "sadd16 r9, r9, r10\n\t" "smlab" half " r4, r9, r11, r4\n\t"
#define BLOCKS_SINGLE_TABLE_RECORD "ldm    r1!, {r8, r11}\n\t" BLOCKS_SINGLE_ENTRY8("r8", "b")
#define BLOCKS_SINGLE_TABLE_RECORDS2                                                                         \
    "ldm    r1!, {r6, r8, r11}\n\t" BLOCKS_SINGLE_ENTRY8("r6", "b") BLOCKS_SINGLE_ENTRY8("r8", "t")
#endif
#define BLOCKS_SINGLE_RECORDS                                                                                \
    "lsrs   r0, r0, #1\n\t" "bcc    5f\n\t" BLOCKS_SINGLE_TABLE_RECORD "beq    6f\n\t"                       \
    "5:\n\t" BLOCKS_SINGLE_TABLE_RECORDS2 "subs   r0, r0, #1\n\t" "bne    5b\n\t" "6:\n\t"
#else
#if MUNIFY_DSP_LAYOUT_BI == 4
#define BLOCKS_SINGLE_RECORD                                                                                 \
    "ldm    r1!, {r8, r9}\n\t" "lsls   r12, r8, #17\n\t" "add    r12, r2, r12, lsr #15\n\t"                   \
    "ldr    r0, [r12]\n\t" "usad8  r0, r0, r9\n\t" "smlabt r4, r0, r8, r4\n\t"
#else
#define BLOCKS_SINGLE_RECORD                                                                                 \
    "ldm    r1!, {r8, r9, r10}\n\t" "lsls   r12, r8, #17\n\t" "add    r12, r2, r12, lsr #15\n\t"              \
    "ldrd   r0, r11, [r12]\n\t" "usad8  r0, r0, r9\n\t" "usada8 r0, r11, r10, r0\n\t"                       \
    "smlabt r4, r0, r8, r4\n\t"
#endif
#endif

#if MUNIFY_DSP_TABLE_RECORDS
#define BLOCKS_SINGLE_ROW_RECORDS BLOCKS_RECORDS_START BLOCKS_SINGLE_RECORDS
#else
#define BLOCKS_SINGLE_ROW_RECORDS BLOCKS_RECORDS_START "3:\n\t" BLOCKS_SINGLE_RECORD "bcc    3b\n\t"
#endif
/* The row's accumulator into the quad's first slot, the next row's counts and pixel a's start. */
#define BLOCKS_SINGLE_ROW_END                                                                                \
    "ldm    sp, {r2, r8, r9}\n\t" "str    r4, [r8], #16\n\t" "ldm    r9, {r0, r4}\n\t" "add    r9, r9, #20\n\t"  \
    "strd   r8, r9, [sp, #4]\n\t"
#define BLOCKS_SINGLE_FIRST_HEAD "ldm    r9, {r0, r4}\n\t" "add    r9, r9, #20\n\t" "str    r9, [sp, #8]\n\t"

MUNIFY_ASM_FUNCTION blocks_rows_single(MUNIFY_ASM_ARG const blocks_quad_state *state)
{
    __asm volatile(BLOCKS_ROWS_PASS(BLOCKS_SINGLE_FIRST_HEAD, BLOCKS_DENSE_BLOCK(BLOCKS_SINGLE_MACS),
                                    BLOCKS_SINGLE_ROW_RECORDS, BLOCKS_SINGLE_ROW_END));
}

/* One pixel's whole blocks widened and copied unsigned in one pass: `rows` runs of `blocks` (>= 1) blocks
 * of bi inputs (unified blocks never reach the partial last block), `step` bytes from the end of one run to
 * the start of the next (blocks_source). Per group of 4 inputs its two SXTB16 words into every 8th word pair
 * of the quad-interleaved columns `out`, its unsigned copy x + 128 into the column's place among the four at
 * `u` (each block 4 * bi bytes after the one before): one load of each input word serves both copies. */
typedef struct {
    const int8_t *x;
    int32_t blocks;
    uint32_t *out;
    uint8_t *u;
    int32_t rows;
    int32_t step;
} blocks_runs;

_Static_assert(offsetof(blocks_runs, x) == 0 && offsetof(blocks_runs, blocks) == 4 && offsetof(blocks_runs, out) == 8 &&
                   offsetof(blocks_runs, u) == 12 && offsetof(blocks_runs, rows) == 16 &&
                   offsetof(blocks_runs, step) == 20,
               "blocks_runs: blocks_widen_unsigned_runs reads these word offsets");

#if MUNIFY_DSP_LAYOUT_BI == 4
#define BLOCKS_WIDEN_LOADS "ldr    r4, [r0], #4\n\t"
#define BLOCKS_WIDEN_WORD_LOADS BLOCKS_WIDEN_LOADS
#define BLOCKS_WIDEN_UNSIGNED_BLOCK(loads)                                                                   \
    loads "eor    r5, r4, #0x80808080\n\t" "str    r5, [r3], #16\n\t"                                          \
    "sxtb16 r5, r4\n\t" "sxtb16 r4, r4, ror #8\n\t" "strd   r5, r4, [r2], #32\n\t"
#else
#define BLOCKS_WIDEN_LOADS "ldr    r4, [r0], #4\n\t" "ldr    r5, [r0], #4\n\t"
#define BLOCKS_WIDEN_WORD_LOADS "ldrd   r4, r5, [r0], #8\n\t" /* x word-aligned (blocks_words_aligned) */
#define BLOCKS_WIDEN_UNSIGNED_BLOCK(loads)                                                                   \
    loads "eor    r6, r4, #0x80808080\n\t"                                                                     \
    "eor    r12, r5, #0x80808080\n\t" "strd   r6, r12, [r3], #32\n\t"                                        \
    "sxtb16 r6, r4\n\t" "sxtb16 r4, r4, ror #8\n\t" "strd   r6, r4, [r2], #32\n\t"                            \
    "sxtb16 r6, r5\n\t" "sxtb16 r5, r5, ror #8\n\t" "strd   r6, r5, [r2], #32\n\t"
#endif
/* One run (an im2col patch or a pointwise pixel): `blocks` (>= 1) blocks from x, the arguments in registers. */
#define BLOCKS_WIDEN_UNSIGNED_ONE(loads)                                                                     \
    "push   {r4-r6}\n\t" "1:\n\t" BLOCKS_WIDEN_UNSIGNED_BLOCK(loads) "subs   r1, r1, #1\n\t" "bne    1b\n\t"     \
    "pop    {r4-r6}\n\t" "bx     lr\n\t"
/* The kernel rows of a pixel inside the input (rows >= 2). */
#define BLOCKS_WIDEN_UNSIGNED_RUNS(loads)                                                                    \
    "push   {r4-r9}\n\t"                                                                                     \
    "ldrd   r2, r3, [r0, #8]\n\t"  /* out, u */                                                              \
    "ldrd   r8, r9, [r0, #16]\n\t" /* rows, step */                                                          \
    "ldr    r7, [r0, #4]\n\t"      /* blocks */                                                              \
    "ldr    r0, [r0]\n\t"          /* x */                                                                   \
    "2:\n\t" "mov    r1, r7\n\t"                                                                             \
    "1:\n\t" BLOCKS_WIDEN_UNSIGNED_BLOCK(loads) "subs   r1, r1, #1\n\t" "bne    1b\n\t"                         \
    "add    r0, r0, r9\n\t" "subs   r8, r8, #1\n\t" "bne    2b\n\t"                                          \
    "pop    {r4-r9}\n\t" "bx     lr\n\t"

MUNIFY_ASM_FUNCTION blocks_widen_unsigned_quad(MUNIFY_ASM_ARG const int8_t *x, MUNIFY_ASM_ARG int32_t blocks,
                                               MUNIFY_ASM_ARG uint32_t *out, MUNIFY_ASM_ARG uint8_t *u)
{
    __asm volatile(BLOCKS_WIDEN_UNSIGNED_ONE(BLOCKS_WIDEN_LOADS));
}

MUNIFY_ASM_FUNCTION blocks_widen_unsigned_runs(MUNIFY_ASM_ARG const blocks_runs *runs)
{
    __asm volatile(BLOCKS_WIDEN_UNSIGNED_RUNS(BLOCKS_WIDEN_LOADS));
}

/* The same with word-aligned inputs (1 x 8: one LDRD for a block's two input words). */
MUNIFY_ASM_FUNCTION blocks_widen_unsigned_quad_words(MUNIFY_ASM_ARG const int8_t *x, MUNIFY_ASM_ARG int32_t blocks,
                                                     MUNIFY_ASM_ARG uint32_t *out, MUNIFY_ASM_ARG uint8_t *u)
{
    __asm volatile(BLOCKS_WIDEN_UNSIGNED_ONE(BLOCKS_WIDEN_WORD_LOADS));
}

MUNIFY_ASM_FUNCTION blocks_widen_unsigned_runs_words(MUNIFY_ASM_ARG const blocks_runs *runs)
{
    __asm volatile(BLOCKS_WIDEN_UNSIGNED_RUNS(BLOCKS_WIDEN_WORD_LOADS));
}

/* The four pixels of a quad widened (and copied unsigned) in one call: per pixel `rows` runs of `blocks` (>= 1)
 * whole blocks from x, `step` bytes from the end of one run to the start of the next, into its slots `out` and
 * `u` (blocks_widen_pixels fills them); every pixel of a quad has the same kernel rows (blocks_pixel_source). */
typedef struct {
    const int8_t *x;
    uint32_t *out;
    uint8_t *u;
    int32_t step;
} blocks_pixel_runs;

typedef struct {
    blocks_pixel_runs pixel[4];
    int32_t blocks;
    int32_t rows;
} blocks_quad_runs;

_Static_assert(sizeof(blocks_pixel_runs) == 16 && offsetof(blocks_pixel_runs, out) == 4 &&
                   offsetof(blocks_pixel_runs, u) == 8 && offsetof(blocks_pixel_runs, step) == 12 &&
                   offsetof(blocks_quad_runs, blocks) == 64 && offsetof(blocks_quad_runs, rows) == 68,
               "blocks_quad_runs: blocks_widen_quad_runs reads these word offsets");

#if MUNIFY_DSP_LAYOUT_BI == 4
#define BLOCKS_WIDEN_BLOCK(loads)                                                                            \
    loads "sxtb16 r5, r4\n\t" "sxtb16 r4, r4, ror #8\n\t" "strd   r5, r4, [r2], #32\n\t"
#else
#define BLOCKS_WIDEN_BLOCK(loads)                                                                            \
    loads "sxtb16 r6, r4\n\t" "sxtb16 r4, r4, ror #8\n\t" "strd   r6, r4, [r2], #32\n\t"                      \
    "sxtb16 r6, r5\n\t" "sxtb16 r5, r5, ror #8\n\t" "strd   r6, r5, [r2], #32\n\t"
#endif
/* r10 walks the pixels (x, out, u, step: one LDM), r7 the blocks of a run, r11 the runs, lr the pixels left. */
#define BLOCKS_WIDEN_QUAD_RUNS(block)                                                                        \
    "push   {r4-r11, lr}\n\t"                                                                                \
    "ldrd   r7, r11, [r0, #64]\n\t" "mov    r10, r0\n\t" "mov    lr, #4\n\t"                                  \
    "3:\n\t" "ldm    r10!, {r0, r2, r3, r9}\n\t" "mov    r8, r11\n\t"                                        \
    "2:\n\t" "mov    r1, r7\n\t"                                                                             \
    "1:\n\t" block "subs   r1, r1, #1\n\t" "bne    1b\n\t"                                                   \
    "add    r0, r0, r9\n\t" "subs   r8, r8, #1\n\t" "bne    2b\n\t"                                          \
    "subs   lr, lr, #1\n\t" "bne    3b\n\t"                                                                   \
    "pop    {r4-r11, pc}\n\t"

MUNIFY_ASM_FUNCTION blocks_widen_quad_runs(MUNIFY_ASM_ARG const blocks_quad_runs *runs)
{
    __asm volatile(BLOCKS_WIDEN_QUAD_RUNS(BLOCKS_WIDEN_BLOCK(BLOCKS_WIDEN_LOADS)));
}

MUNIFY_ASM_FUNCTION blocks_widen_quad_runs_words(MUNIFY_ASM_ARG const blocks_quad_runs *runs)
{
    __asm volatile(BLOCKS_WIDEN_QUAD_RUNS(BLOCKS_WIDEN_BLOCK(BLOCKS_WIDEN_WORD_LOADS)));
}

MUNIFY_ASM_FUNCTION blocks_widen_unsigned_quad_runs(MUNIFY_ASM_ARG const blocks_quad_runs *runs)
{
    __asm volatile(BLOCKS_WIDEN_QUAD_RUNS(BLOCKS_WIDEN_UNSIGNED_BLOCK(BLOCKS_WIDEN_LOADS)));
}

MUNIFY_ASM_FUNCTION blocks_widen_unsigned_quad_runs_words(MUNIFY_ASM_ARG const blocks_quad_runs *runs)
{
    __asm volatile(BLOCKS_WIDEN_QUAD_RUNS(BLOCKS_WIDEN_UNSIGNED_BLOCK(BLOCKS_WIDEN_WORD_LOADS)));
}

/* Widens `groups` (>= 1) whole groups of 4 inputs into every 8th word pair of the quad-interleaved columns
 * (munify_dsp_widen_pairs with stride 8, two groups per pass). */
MUNIFY_ASM_FUNCTION blocks_widen_quad(MUNIFY_ASM_ARG const int8_t *x, MUNIFY_ASM_ARG int32_t groups,
                                      MUNIFY_ASM_ARG uint32_t *out)
{
    __asm volatile("lsrs   r1, r1, #1\n\t"
                   "bcc    1f\n\t"
                   "ldr    r3, [r0], #4\n\t"
                   "sxtb16 r12, r3\n\t"
                   "sxtb16 r3, r3, ror #8\n\t"
                   "strd   r12, r3, [r2], #32\n\t"
                   "1:\n\t"
                   "cbz    r1, 3f\n\t"
                   "2:\n\t"
                   "ldr    r3, [r0], #4\n\t"
                   "sxtb16 r12, r3\n\t"
                   "sxtb16 r3, r3, ror #8\n\t"
                   "strd   r12, r3, [r2], #32\n\t"
                   "ldr    r3, [r0], #4\n\t"
                   "sxtb16 r12, r3\n\t"
                   "sxtb16 r3, r3, ror #8\n\t"
                   "strd   r12, r3, [r2], #32\n\t"
                   "subs   r1, r1, #1\n\t"
                   "bne    2b\n\t"
                   "3:\n\t"
                   "bx     lr\n\t");
}

/* One column into its place in the quad-interleaved widened columns (a partial last group padded with 0). */
MUNIFY_DSP_FN void blocks_widen_column(const int8_t *x, int32_t n, uint32_t *out)
{
    int32_t full = n >> 2;
    if (full > 0) {
        blocks_widen_quad(x, full, out);
    }
    if (n & 3) {
        munify_dsp_widen_pairs(x + 4 * full, n & 3, out + 8 * full, 8);
    }
}

/* The tables of the four pixels, per block (MUNIFY_DSP_TABLE_BLOCK_BYTES): for 4 inputs, entry s (sign bits,
 * bit j set: input j negated) is the words (a | b << 16, c | d << 16), the signed sums sum_j +-x_j of pixels a,
 * b, c, d; 1 x 4 blocks keep entries 0-7 (input 3 positive), 1 x 8 blocks entries 0-15 of inputs 0-3, then 0-7
 * of inputs 4-7 (a record with its last weight negative flips its signs and negates its magnitude).
 * blocks_tables builds both pixel pairs at once, so that one STRD stores an entry: per group of 4 inputs one LDM
 * of the widened words (x0,x2) (x1,x3) of the pixels a-d, per pair PKHBT/PKHTB into the pairs of input j, then
 * e0 = x0 + x1, e2 = x0 - x1, f0 = x2 + x3, f1 = x3 - x2 (ab: r5, r6, r11, r12; cd: r9, r10, r3, r4), and an
 * entry is one SADD16/SSUB16 per pair (r7, r8) and a STRD; entries 8-15 of a 1 x 8 block's inputs 0-3 are
 * e - f (four of them) or the negations (lr = 0) of the entry just stored, their complements. r2 runs 8 bytes
 * behind the block: the last store's writeback ([r2, #block bytes]!) moves it to the next block. */
#define BLOCKS_TABLE_BASES                                                                                   \
    "ldm    r0!, {r3, r4, r5, r6, r7, r8, r9, r10}\n\t"                                                      \
    "pkhbt  r11, r3, r5, lsl #16\n\t" "pkhbt  r12, r4, r6, lsl #16\n\t"                                        \
    "pkhtb  r3, r5, r3, asr #16\n\t" "pkhtb  r4, r6, r4, asr #16\n\t"                                          \
    "sadd16 r5, r11, r12\n\t" "ssub16 r6, r11, r12\n\t" "sadd16 r11, r3, r4\n\t" "ssub16 r12, r4, r3\n\t"      \
    "pkhbt  r3, r7, r9, lsl #16\n\t" "pkhbt  r4, r8, r10, lsl #16\n\t"                                         \
    "pkhtb  r7, r9, r7, asr #16\n\t" "pkhtb  r8, r10, r8, asr #16\n\t"                                         \
    "sadd16 r9, r3, r4\n\t" "ssub16 r10, r3, r4\n\t" "sadd16 r3, r7, r8\n\t" "ssub16 r4, r8, r7\n\t"
/* entry `at` (its byte offset in the block + 8): op(ab operands), op(cd operands), one STRD */
#define BLOCKS_TABLE_ENTRY(op, ab, cd, at, wb)                                                               \
    op "   r7, " ab "\n\t" op "   r8, " cd "\n\t" "strd   r7, r8, [r2, #" at "]" wb "\n\t"
#define BLOCKS_TABLE_NEGATED(at) BLOCKS_TABLE_ENTRY("ssub16", "lr, r7", "lr, r8", at, "")
/* the 8 entries with input 3 positive of the group whose table starts at byte `t` (a string); entry 7 last,
 * with `wb` */
#define BLOCKS_TABLE_EIGHT(t, wb)                                                                            \
    BLOCKS_TABLE_ENTRY("sadd16", "r5, r11", "r9, r3", "8 + " t, "")                                          \
    BLOCKS_TABLE_ENTRY("ssub16", "r11, r6", "r3, r10", "16 + " t, "")                                        \
    BLOCKS_TABLE_ENTRY("sadd16", "r6, r11", "r10, r3", "24 + " t, "")                                        \
    BLOCKS_TABLE_ENTRY("ssub16", "r11, r5", "r3, r9", "32 + " t, "")                                         \
    BLOCKS_TABLE_ENTRY("sadd16", "r5, r12", "r9, r4", "40 + " t, "")                                         \
    BLOCKS_TABLE_ENTRY("ssub16", "r12, r6", "r4, r10", "48 + " t, "")                                        \
    BLOCKS_TABLE_ENTRY("sadd16", "r6, r12", "r10, r4", "56 + " t, "")                                        \
    BLOCKS_TABLE_ENTRY("ssub16", "r12, r5", "r4, r9", "64 + " t, wb)
/* 1 x 8, inputs 0-3: all 16 entries; entry s and its complement 15 - s back to back where one is a negation */
#define BLOCKS_TABLE_SIXTEEN                                                                                 \
    BLOCKS_TABLE_ENTRY("sadd16", "r5, r11", "r9, r3", "8", "") BLOCKS_TABLE_NEGATED("128")                   \
    BLOCKS_TABLE_ENTRY("sadd16", "r6, r11", "r10, r3", "24", "") BLOCKS_TABLE_NEGATED("112")                 \
    BLOCKS_TABLE_ENTRY("sadd16", "r5, r12", "r9, r4", "40", "") BLOCKS_TABLE_NEGATED("96")                   \
    BLOCKS_TABLE_ENTRY("sadd16", "r6, r12", "r10, r4", "56", "") BLOCKS_TABLE_NEGATED("80")                  \
    BLOCKS_TABLE_ENTRY("ssub16", "r11, r6", "r3, r10", "16", "")                                             \
    BLOCKS_TABLE_ENTRY("ssub16", "r11, r5", "r3, r9", "32", "")                                              \
    BLOCKS_TABLE_ENTRY("ssub16", "r12, r6", "r4, r10", "48", "")                                             \
    BLOCKS_TABLE_ENTRY("ssub16", "r12, r5", "r4, r9", "64", "")                                              \
    BLOCKS_TABLE_ENTRY("ssub16", "r5, r12", "r9, r4", "72", "")   /*  8: e0 - f1 */                         \
    BLOCKS_TABLE_ENTRY("ssub16", "r6, r12", "r10, r4", "88", "")  /* 10: e2 - f1 */                         \
    BLOCKS_TABLE_ENTRY("ssub16", "r5, r11", "r9, r3", "104", "")  /* 12: e0 - f0 */                         \
    BLOCKS_TABLE_ENTRY("ssub16", "r6, r11", "r10, r3", "120", "") /* 14: e2 - f0 */
#if MUNIFY_DSP_LAYOUT_BI == 4
#define BLOCKS_TABLE_SETUP "sub    r2, r2, #8\n\t"
#define BLOCKS_TABLE_BLOCK BLOCKS_TABLE_BASES BLOCKS_TABLE_EIGHT("0", "!")
#else
#define BLOCKS_TABLE_SETUP "sub    r2, r2, #8\n\t" "mov    lr, #0\n\t"
#define BLOCKS_TABLE_BLOCK BLOCKS_TABLE_BASES BLOCKS_TABLE_SIXTEEN BLOCKS_TABLE_BASES BLOCKS_TABLE_EIGHT("128", "!")
#endif

/* `blocks` (>= 1) blocks of inputs from the quad-interleaved widened columns into the tables t. */
MUNIFY_ASM_FUNCTION blocks_tables(MUNIFY_ASM_ARG const uint32_t *widened, MUNIFY_ASM_ARG int32_t blocks,
                                  MUNIFY_ASM_ARG uint32_t *t)
{
    __asm volatile("push   {r4-r11, lr}\n\t" BLOCKS_TABLE_SETUP "1:\n\t" BLOCKS_TABLE_BLOCK
                   "subs   r1, r1, #1\n\t"
                   "bne    1b\n\t"
                   "pop    {r4-r11, pc}\n\t");
}

/* blocks_tables_ab (pixels a and b only, the a | b word of every entry: the layer's last pixel alone): per pixel
 * pair (inputs x, y of the widened words x02, x13, y02, y13): p0..p3 the pairs of input j, e = three of the four
 * sign patterns of inputs 0, 1 (r4-r6), f = one of inputs 2, 3 (r10), so each entry is one SADD16 (the fourth,
 * -(x0 + x1) + f, one SSUB16 of r4) and one STR. */
#define BLOCKS_TABLE_ENTRIES(pair, chunk)                                                                     \
    "sadd16 r3, r4, r10\n\t" "sadd16 r11, r5, r10\n\t" "sadd16 r12, r6, r10\n\t" "ssub16 lr, r10, r4\n\t"       \
    "str    r3, [r2, #" #chunk "0 + " #pair "]\n\t" "str    r11, [r2, #" #chunk "8 + " #pair "]\n\t"               \
    "str    r12, [r2, #" #chunk "16 + " #pair "]\n\t" "str    lr, [r2, #" #chunk "24 + " #pair "]\n\t"
#define BLOCKS_TABLE_HALF(pair)                                                                              \
    "ldm    r0!, {r3, r11, r12, lr}\n\t"                                                                     \
    "pkhtb  r8, r12, r3, asr #16\n\t" "pkhtb  r9, lr, r11, asr #16\n\t"                                       \
    "pkhbt  r3, r3, r12, lsl #16\n\t" "pkhbt  r11, r11, lr, lsl #16\n\t"                                      \
    "sadd16 r4, r3, r11\n\t" "ssub16 r5, r11, r3\n\t" "ssub16 r6, r3, r11\n\t" "sadd16 r10, r8, r9\n\t"      \
    BLOCKS_TABLE_ENTRIES(pair, 0*32+) "ssub16 r10, r9, r8\n\t" BLOCKS_TABLE_ENTRIES(pair, 1*32+)
#define BLOCKS_TABLE_FULL(pair)                                                                              \
    BLOCKS_TABLE_HALF(pair) "ssub16 r10, r8, r9\n\t" BLOCKS_TABLE_ENTRIES(pair, 2*32+)                         \
    "sadd16 r10, r8, r9\n\t" "ssub16 r10, r7, r10\n\t" /* r7 = 0 */ BLOCKS_TABLE_ENTRIES(pair, 3*32+)
#define BLOCKS_TABLE_SKIP_CD "add    r0, r0, #16\n\t"
#if MUNIFY_DSP_LAYOUT_BI == 4
#define BLOCKS_TABLE_PAIR_START ""
#define BLOCKS_TABLE_PAIR_BLOCK BLOCKS_TABLE_HALF(0) BLOCKS_TABLE_SKIP_CD "add    r2, r2, #64\n\t"
#else
#define BLOCKS_TABLE_PAIR_START "mov    r7, #0\n\t" /* for BLOCKS_TABLE_FULL */
#define BLOCKS_TABLE_PAIR_BLOCK                                                                              \
    BLOCKS_TABLE_FULL(0) BLOCKS_TABLE_SKIP_CD "add    r2, r2, #128\n\t" BLOCKS_TABLE_HALF(0) BLOCKS_TABLE_SKIP_CD \
    "add    r2, r2, #64\n\t"
#endif

/* The same for pixels a and b only: the a | b word of every entry. */
MUNIFY_ASM_FUNCTION blocks_tables_ab(MUNIFY_ASM_ARG const uint32_t *widened, MUNIFY_ASM_ARG int32_t blocks,
                                     MUNIFY_ASM_ARG uint32_t *t)
{
    __asm volatile("push   {r4-r11, lr}\n\t" BLOCKS_TABLE_PAIR_START "1:\n\t" BLOCKS_TABLE_PAIR_BLOCK
                   "subs   r1, r1, #1\n\t"
                   "bne    1b\n\t"
                   "pop    {r4-r11, pc}\n\t");
}


/* One pixel's output of the row: `load` its accumulator into r4, r5-r7 the row's table entry, r2 the output
 * offset; SSAT, `clamp` (the lower activation bound, r9), stored to `dst`. The overflow path (2 * acc does not
 * fit) is at `fix`, back to `back`. MUNIFY_DSP_REQUANT_FOLDED (the plan's requant_folds_offset: no accumulator
 * reaches the overflow path, and the table's nudges carry offset << right, munify_dsp_fold_offset): neither the
 * overflow check nor the offset's ADD. */
#if MUNIFY_DSP_REQUANT_FOLDED
#define BLOCKS_QUAD_OUTPUT(load, back, fix, clamp, dst)                                                      \
    load "add    r10, r4, r4\n\t" "smmulr r10, r10, r5\n\t" "add    r11, r10, r6\n\t"                          \
    "sub    r11, r11, r10, lsr #31\n\t" "asr    r11, r11, r7\n\t" "ssat   r11, #8, r11\n\t" clamp              \
    "strb   r11, " dst "\n\t"
#define BLOCKS_QUAD_OVERFLOW(back, fix) ""
#else
#define BLOCKS_QUAD_OUTPUT(load, back, fix, clamp, dst)                                                      \
    load "adds   r10, r4, r4\n\t" "bvs    " fix "f\n\t" "smmulr r10, r10, r5\n\t"                           \
    back ":\n\t" "add    r11, r10, r6\n\t" "sub    r11, r11, r10, lsr #31\n\t" "asr    r11, r11, r7\n\t"         \
    "add    r11, r11, r2\n\t" "ssat   r11, #8, r11\n\t" clamp "strb   r11, " dst "\n\t"
#define BLOCKS_QUAD_OVERFLOW(back, fix)                                                                      \
    fix ":\n\t" "smull  r10, r11, r4, r5\n\t" "adds   r10, r10, #0x40000000\n\t" "adc    r11, r11, #0\n\t"       \
    "lsr    r10, r10, #31\n\t" "orr    r10, r10, r11, lsl #1\n\t" "b      " back "b\n\t"
#endif
#define BLOCKS_QUAD_CLAMP_MIN MUNIFY_DSP_MAX("r11", "r9")
/* The rows' loop: r3 / r8 = the outputs of pixels a / c, lr = rows (pixels b, d: + lr), r12 = the end of a's
 * outputs. Pixel b (d) goes first so that a's (c's) store advances r3 (r8) and its load the accumulators. */
#define BLOCKS_QUAD_OUTPUTS(clamp)                                                                           \
    "push   {r4-r11, lr}\n\t"                                                                                \
    "ldr    r2, [r0, #16]\n\t"                                                                               \
    "ldr    r9, [r0, #20]\n\t"                                                                               \
    "ldm    r0, {r0, r1, r3, r12}\n\t" /* acc, table, out, rows */                                           \
    "mov    lr, r12\n\t"                                                                                     \
    "add    r8, r3, r12, lsl #1\n\t"                                                                         \
    "add    r12, r3, r12\n\t"                                                                                \
    "1:\n\t"                                                                                                 \
    "ldm    r1!, {r5, r6, r7, r10, r11}\n\t"                                                                 \
    BLOCKS_QUAD_OUTPUT("ldr    r4, [r0, #4]\n\t", "21", "31", clamp, "[r3, lr]")                                \
    BLOCKS_QUAD_OUTPUT("ldr    r4, [r0], #8\n\t", "22", "32", clamp, "[r3], #1")                                \
    BLOCKS_QUAD_OUTPUT("ldr    r4, [r0, #4]\n\t", "23", "33", clamp, "[r8, lr]")                                \
    BLOCKS_QUAD_OUTPUT("ldr    r4, [r0], #8\n\t", "24", "34", clamp, "[r8], #1")                                \
    "cmp    r3, r12\n\t"                                                                                    \
    "bne    1b\n\t"                                                                                          \
    "pop    {r4-r11, pc}\n\t"                                                                                \
    BLOCKS_QUAD_OVERFLOW("21", "31") BLOCKS_QUAD_OVERFLOW("22", "32") BLOCKS_QUAD_OVERFLOW("23", "33")         \
    BLOCKS_QUAD_OVERFLOW("24", "34")

/* The four pixels' outputs of every row at once (one table entry per row), for tables that only shift right
 * and an upper bound of 127: out + i * rows is pixel i's output; acc interleaved (a b c d per row). */
MUNIFY_ASM_FUNCTION blocks_output_quad(MUNIFY_ASM_ARG const munify_dsp_output_state *state)
{
    __asm volatile(BLOCKS_QUAD_OUTPUTS(""));
}

/* The same with a lower bound above -128 (ReLU). */
MUNIFY_ASM_FUNCTION blocks_output_quad_min(MUNIFY_ASM_ARG const munify_dsp_output_state *state)
{
    __asm volatile(BLOCKS_QUAD_OUTPUTS(BLOCKS_QUAD_CLAMP_MIN));
}

/* A pool window's quad (toolchain.plan.fusion): per row the maximum of the four accumulators (r4), requantized
 * once; r3 the output, r12 its end. */
#define BLOCKS_WINDOW_OUTPUTS(clamp)                                                                         \
    "push   {r4-r11, lr}\n\t"                                                                                \
    "ldr    r2, [r0, #16]\n\t"                                                                               \
    "ldr    r9, [r0, #20]\n\t"                                                                               \
    "ldm    r0, {r0, r1, r3, r12}\n\t" /* acc, table, out, rows */                                           \
    "add    r12, r3, r12\n\t"                                                                                \
    "1:\n\t"                                                                                                 \
    "ldm    r0!, {r4, r5, r6, r7}\n\t"                                                                       \
    MUNIFY_DSP_MAX4("r4", "r5", "r6", "r7")                                                                  \
    "ldm    r1!, {r5, r6, r7, r10, r11}\n\t"                                                                 \
    BLOCKS_QUAD_OUTPUT("", "21", "31", clamp, "[r3], #1")                                                      \
    "cmp    r3, r12\n\t"                                                                                     \
    "bne    1b\n\t"                                                                                          \
    "pop    {r4-r11, pc}\n\t"                                                                                \
    BLOCKS_QUAD_OVERFLOW("21", "31")

MUNIFY_ASM_FUNCTION blocks_output_window(MUNIFY_ASM_ARG const munify_dsp_output_state *state)
{
    __asm volatile(BLOCKS_WINDOW_OUTPUTS(""));
}

MUNIFY_ASM_FUNCTION blocks_output_window_min(MUNIFY_ASM_ARG const munify_dsp_output_state *state)
{
    __asm volatile(BLOCKS_WINDOW_OUTPUTS(BLOCKS_QUAD_CLAMP_MIN));
}

/* Where one output pixel's inputs are: `rows` runs of `row_len` inputs, `stride` bytes apart. An interior
 * pixel's kernel rows straight from the input (blocks_direct_rows), else one run: the im2col patch or the
 * pointwise pixel. */
typedef struct {
    const int8_t *x;
    int32_t rows, row_len, stride;
} blocks_source;

/* Whether a 1 x 8 layout's widening may load a block's two input words with one LDRD: the source (the input
 * buffer and its row stride, or the im2col patch in scratch) is word-aligned. */
MUNIFY_DSP_FN int32_t blocks_words_aligned(const blocks_source *s)
{
    return MUNIFY_DSP_LAYOUT_BI == 8 && (((uintptr_t)s->x | (uintptr_t)s->stride) & 3) == 0;
}

/* A quad's four pixels of whole blocks in one call (blocks_widen_quad_runs). */
MUNIFY_DSP_FN void blocks_widen_quad_pixels(const blocks_column *col, int32_t copy_unsigned, const blocks_source src[4])
{
    blocks_quad_runs runs;
    uintptr_t alignment = 0;
    for (int32_t i = 0; i < 4; ++i) {
        runs.pixel[i] = (blocks_pixel_runs){src[i].x, (uint32_t *)(uintptr_t)col->widened + 2 * i,
                                            (uint8_t *)(uintptr_t)col->unsigned_x + i * MUNIFY_DSP_LAYOUT_BI,
                                            src[i].stride - src[i].row_len};
        alignment |= (uintptr_t)src[i].x | (uintptr_t)src[i].stride;
    }
    runs.blocks = src[0].row_len / MUNIFY_DSP_LAYOUT_BI;
    runs.rows = src[0].rows;
    int32_t words = MUNIFY_DSP_LAYOUT_BI == 8 && (alignment & 3) == 0;
    if (copy_unsigned) {
        (words ? blocks_widen_unsigned_quad_runs_words : blocks_widen_unsigned_quad_runs)(&runs);
    } else {
        (words ? blocks_widen_quad_runs_words : blocks_widen_quad_runs)(&runs);
    }
}

/* Pixels src[0 .. n) widened (and copied unsigned where the layer has unified blocks) into their quad slots. */
__attribute__((always_inline)) static inline void blocks_widen_pixels(const blocks_column *col, int32_t unified,
                                                                      const blocks_source *src, int32_t n)
{
    const munify_dsp_blocks *p = col->p;
    int32_t whole_blocks = p->cols / MUNIFY_DSP_LAYOUT_BI;
    int32_t copy_unsigned = !MUNIFY_DSP_TABLE_RECORDS && unified;
    int32_t unsigned_blocks = copy_unsigned ? whole_blocks : 0;
    if (n == 4 && src[0].row_len % MUNIFY_DSP_LAYOUT_BI == 0) { /* whole blocks: one call for the four */
        blocks_widen_quad_pixels(col, copy_unsigned, src);
        return;
    }
    for (int32_t i = 0; i < n; ++i) {
        const blocks_source *s = &src[i];
        uint32_t *widened = (uint32_t *)(uintptr_t)col->widened + 2 * i;
        uint8_t *column = (uint8_t *)(uintptr_t)col->unsigned_x + i * MUNIFY_DSP_LAYOUT_BI;
        if (s->rows == 1) { /* the im2col patch or the pointwise pixel: p->cols inputs */
            int32_t done = 0;
            if (unsigned_blocks > 0) {
                if (blocks_words_aligned(s)) {
                    blocks_widen_unsigned_quad_words(s->x, unsigned_blocks, widened, column);
                } else {
                    blocks_widen_unsigned_quad(s->x, unsigned_blocks, widened, column);
                }
                done = unsigned_blocks * MUNIFY_DSP_LAYOUT_BI;
            }
            if (done < p->cols) {
                blocks_widen_column(s->x + done, p->cols - done, widened + 2 * done);
            }
        } else if (copy_unsigned) { /* kernel rows of whole blocks straight from the input */
            blocks_runs runs = {s->x, s->row_len / MUNIFY_DSP_LAYOUT_BI, widened, column, s->rows,
                                s->stride - s->row_len};
            if (blocks_words_aligned(s)) {
                blocks_widen_unsigned_runs_words(&runs);
            } else {
                blocks_widen_unsigned_runs(&runs);
            }
        } else {
            for (int32_t r = 0; r < s->rows; ++r) {
                blocks_widen_column(s->x + r * s->stride, s->row_len, widened + 2 * r * s->row_len);
            }
        }
    }
}

/* The layer's quantization as the output loops take it: the offset in the table's nudges when folded. */
MUNIFY_DSP_FN munify_dsp_quant blocks_output_quant(const blocks_column *col)
{
    munify_dsp_quant q = col->p->q;
    if (MUNIFY_DSP_REQUANT_FOLDED && col->simple) {
        q.output_offset = 0; /* in the table's nudges */
    }
    return q;
}

/* The accumulators of pixels src[0..3] for every row, interleaved (a b c d per row) in col->acc. */
MUNIFY_DSP_FN void blocks_quad_accumulate(const blocks_column *col, const int32_t *row_heads, int32_t unified,
                                          const blocks_source src[4])
{
    const munify_dsp_blocks *p = col->p;
    const munify_dsp_block_lists *l = &p->lists;
    int32_t whole_blocks = p->cols / MUNIFY_DSP_LAYOUT_BI;
    blocks_widen_pixels(col, unified, src, 4);
    if (MUNIFY_DSP_TABLE_RECORDS && unified && whole_blocks > 0) {
        blocks_tables(col->widened, whole_blocks, (uint32_t *)(uintptr_t)col->unsigned_x);
    }
    const blocks_quad_state rows = {l->row_stream, col->widened, col->acc, row_heads,
                                    col->unsigned_x + BLOCKS_QUAD_RECORDS_OFFSET, munify_dsp_sign_masks[0]};
    blocks_rows_quad(&rows);
}

/* Output pixels src[0..3] (the last ones may repeat) through all rows. */
MUNIFY_DSP_FN void blocks_pixel_quad(const blocks_column *col, const int32_t *row_heads, int32_t unified,
                                     const blocks_source src[4], int8_t *const out[4])
{
    const munify_dsp_blocks *p = col->p;
    munify_dsp_quant q = blocks_output_quant(col);
    blocks_quad_accumulate(col, row_heads, unified, src);
    int32_t full_quad = out[1] == out[0] + p->rows && out[2] == out[1] + p->rows && out[3] == out[2] + p->rows;
    if (full_quad && col->simple && q.act_max == 127) {
        const munify_dsp_output_state state = {col->acc,     col->requant, out[0], p->rows, q.output_offset,
                                               q.act_min, q.act_max};
        if (q.act_min == -128) {
            blocks_output_quad(&state);
        } else {
            blocks_output_quad_min(&state);
        }
        return;
    }
    for (int32_t i = 0; i < 4; ++i) {
        munify_dsp_output_run_quad(col->acc + i, col->requant, col->simple, &q, p->rows, out[i]);
    }
}

/* One output pixel through all rows (the layer's last pixel, alone in its quad). */
MUNIFY_DSP_FN void blocks_pixel_single(const blocks_column *col, const int32_t *row_heads, int32_t unified,
                                       const blocks_source *src, int8_t *out)
{
    const munify_dsp_blocks *p = col->p;
    const munify_dsp_block_lists *l = &p->lists;
    munify_dsp_quant q = blocks_output_quant(col);
    blocks_widen_pixels(col, unified, src, 1);
    if (MUNIFY_DSP_TABLE_RECORDS && unified && p->cols / MUNIFY_DSP_LAYOUT_BI > 0) {
        blocks_tables_ab(col->widened, p->cols / MUNIFY_DSP_LAYOUT_BI, (uint32_t *)(uintptr_t)col->unsigned_x);
    }
    const blocks_quad_state rows = {l->row_stream, col->widened, col->acc, row_heads, col->unsigned_x,
                                    munify_dsp_sign_masks[0]};
    blocks_rows_single(&rows);
    munify_dsp_output_run_quad(col->acc, col->requant, col->simple, &q, p->rows, out);
}

#if MUNIFY_DSP_SCALAR
MUNIFY_DSP_FN void blocks_accumulate(const blocks_column *col, int32_t full_rows, int32_t *acc)
{
    (void)col, (void)full_rows, (void)acc;
}
#include "munify_dsp_blocks_columns.h"
#endif

/* Per row its flags (BLOCKS_HEAD_*) and its accumulators' start four times, then the end head. */
MUNIFY_DSP_FN int32_t *blocks_row_heads(const munify_dsp_blocks *p, int32_t *heads)
{
    const uint16_t *counts = p->lists.counts;
    for (int32_t r = 0; r <= p->rows; ++r) {
        int32_t *head = heads + MUNIFY_DSP_BLOCKS_ROW_WORDS * r;
        if (r == p->rows) {
            memset(head, 0, MUNIFY_DSP_BLOCKS_ROW_BYTES);
            head[0] = BLOCKS_HEAD_END;
            break;
        }
        int32_t column_bytes = MUNIFY_DSP_DENSE16 ? 0 : (2 * counts[2 * r] + 3) / 4 * 4;
        head[0] = (counts[2 * r] ? BLOCKS_HEAD_DENSE : 0) | (counts[2 * r + 1] ? BLOCKS_HEAD_RECORDS : 0) |
                  column_bytes << BLOCKS_HEAD_COLUMNS;
        for (int32_t i = 1; i < MUNIFY_DSP_BLOCKS_ROW_WORDS; ++i) {
            head[i] = p->bias[r] + p->lists.unified_bias[r];
        }
    }
    return heads;
}

/* The pixel quads read an interior pixel's kernel rows straight from the input (no im2col copy) when the
 * kernel rows are contiguous (dilation 1) and a whole number of blocks each, so no block spans two rows. */
MUNIFY_DSP_FN int32_t blocks_direct_rows(const munify_dsp_conv *g)
{
    return !g->pointwise && g->dilation_h == 1 && g->dilation_w == 1 &&
           (g->kernel_w * g->in_c) % MUNIFY_DSP_LAYOUT_BI == 0;
}

/* A border pixel's im2col patch, out of line: inlined, the copies' registers spill in the window loop (MNIST
 * layer 4, dense speed: 4,200 instructions more). */
__attribute__((noinline, unused)) static const int8_t *blocks_border_patch(const munify_dsp_conv *g, const int8_t *input,
                                                                           int32_t oy, int32_t ox, int8_t *im2col)
{
    return munify_dsp_conv_patch(g, input, oy, ox, im2col);
}

/* Output pixel (oy, ox)'s source. With direct rows a border pixel's patch is its kernel rows too (one after the
 * other), so the four pixels of a quad all have the same rows (blocks_widen_quad_pixels). */
__attribute__((always_inline)) static inline void blocks_pixel_source(const munify_dsp_conv *g, int32_t direct,
                                                                      const int8_t *input, int32_t oy, int32_t ox,
                                                                      int32_t cols, int8_t *im2col, blocks_source *src)
{
    int32_t iy0 = oy * g->stride_h - g->pad_top, ix0 = ox * g->stride_w - g->pad_left;
    if (direct && iy0 >= 0 && iy0 + g->kernel_h <= g->in_h && ix0 >= 0 && ix0 + g->kernel_w <= g->in_w) {
        src->x = input + (iy0 * g->in_w + ix0) * g->in_c;
        src->stride = g->in_w * g->in_c;
    } else {
        src->x = blocks_border_patch(g, input, oy, ox, im2col);
        src->stride = direct ? g->kernel_w * g->in_c : 0;
    }
    src->rows = direct ? g->kernel_h : 1;
    src->row_len = direct ? g->kernel_w * g->in_c : cols;
}

MUNIFY_DSP_FN void munify_dsp_conv_blocks_s8(const munify_dsp_blocks *p, const munify_dsp_conv *geometry,
                                             const int8_t *input, int8_t *output, int16_t *scratch)
{
#if MUNIFY_DSP_SCALAR
    blocks_conv_by_pixel(p, geometry, input, output, scratch);
#else
    uint32_t *widened;
    uint8_t *unsigned_x;
    int8_t *im2col;
    int32_t pixels = geometry->out_h * geometry->out_w;
    blocks_column col = blocks_prepare(p, 4, 1, scratch, &widened, &unsigned_x, &im2col);
    int32_t k = blocks_padded_cols(p->cols);
    int32_t unified = blocks_any_unified(p);
    if (MUNIFY_DSP_REQUANT_FOLDED && col.simple) {
        munify_dsp_fold_offset((munify_dsp_requant *)(uintptr_t)col.requant, p->rows, p->q.output_offset);
    }
    int32_t *row_heads = blocks_row_heads(p, (int32_t *)(void *)(im2col + (geometry->pointwise ? 0 : 4 * k)));
    int32_t direct = blocks_direct_rows(geometry);
    for (int32_t pixel = 0; pixel < pixels; pixel += 4) {
        blocks_source src[4];
        int8_t *out[4];
        if (pixel + 1 == pixels) {
            blocks_pixel_source(geometry, direct, input, pixel / geometry->out_w, pixel % geometry->out_w, p->cols,
                                im2col, &src[0]);
            blocks_pixel_single(&col, row_heads, unified, &src[0], output + pixel * p->rows);
            break;
        }
        for (int32_t i = 0; i < 4; ++i) {
            int32_t at = pixel + i < pixels ? pixel + i : pixels - 1;
            out[i] = output + at * p->rows;
            if (at == pixel + i) {
                blocks_pixel_source(geometry, direct, input, at / geometry->out_w, at % geometry->out_w, p->cols,
                                    im2col + i * k, &src[i]);
            } else {
                src[i] = src[i - 1];
            }
        }
        blocks_pixel_quad(&col, row_heads, unified, src, out);
    }
#endif
}

/* ---- fused with the 2x2 / stride 2 MAX_POOL_2D after it (toolchain.plan.fusion) -------------------------
 * A quad is a pool window, pixels (2py, 2px) (2py, 2px + 1) (2py + 1, 2px) (2py + 1, 2px + 1); its rows run as any
 * quad's, then every row's maximum of the four accumulators is requantized once (exact: the requantization
 * and the clamps never decrease with the accumulator). Output [pool_h, pool_w, rows]. */

/* One window's rows into out[0 .. rows). */
MUNIFY_DSP_FN void blocks_pixel_window(const blocks_column *col, const int32_t *row_heads, int32_t unified,
                                       const blocks_source src[4], int8_t *out)
{
    const munify_dsp_blocks *p = col->p;
    munify_dsp_quant q = blocks_output_quant(col);
    blocks_quad_accumulate(col, row_heads, unified, src);
    if (col->simple && q.act_max == 127) {
        const munify_dsp_output_state state = {col->acc, col->requant, out, p->rows, q.output_offset, q.act_min,
                                               q.act_max};
        if (q.act_min == -128) {
            blocks_output_window(&state);
        } else {
            blocks_output_window_min(&state);
        }
        return;
    }
    for (int32_t r = 0; r < p->rows; ++r) {
        int32_t *a = col->acc + 4 * r;
        for (int32_t i = 1; i < 4; ++i) {
            a[0] = a[i] > a[0] ? a[i] : a[0];
        }
    }
    munify_dsp_output_run_quad(col->acc, col->requant, col->simple, &q, p->rows, out);
}

#if MUNIFY_DSP_SCALAR
/* The plain C path: the window's four pixels one at a time, then the maxima. */
MUNIFY_DSP_FN void blocks_conv_pool_by_pixel(const munify_dsp_blocks *p, const munify_dsp_conv *geometry,
                                             int32_t pool_h, int32_t pool_w, const int8_t *input, int8_t *output,
                                             int16_t *scratch)
{
    uint32_t *widened;
    uint8_t *unsigned_x;
    int8_t *im2col;
    blocks_column col = blocks_prepare(p, 4, 0, scratch, &widened, &unsigned_x, &im2col);
    for (int32_t py = 0; py < pool_h; ++py) {
        for (int32_t px = 0; px < pool_w; ++px) {
            for (int32_t i = 0; i < 4; ++i) {
                const int8_t *x = munify_dsp_conv_patch(geometry, input, 2 * py + (i >> 1), 2 * px + (i & 1), im2col);
                munify_dsp_blocks_accumulate_scalar(&p->lists, blocks_shape, p->rows, p->cols, p->bias, x,
                                                    col.acc + i * p->rows);
            }
            int8_t *out = output + (py * pool_w + px) * p->rows;
            for (int32_t r = 0; r < p->rows; ++r) {
                int32_t best = col.acc[r];
                for (int32_t i = 1; i < 4; ++i) {
                    best = col.acc[i * p->rows + r] > best ? col.acc[i * p->rows + r] : best;
                }
                out[r] = munify_dsp_output(best, &p->q, r);
            }
        }
    }
}
#endif

MUNIFY_DSP_FN void munify_dsp_conv_blocks_pool_s8(const munify_dsp_blocks *p, const munify_dsp_conv *geometry,
                                                  int32_t pool_h, int32_t pool_w, const int8_t *input,
                                                  int8_t *output, int16_t *scratch)
{
#if MUNIFY_DSP_SCALAR
    blocks_conv_pool_by_pixel(p, geometry, pool_h, pool_w, input, output, scratch);
#else
    uint32_t *widened;
    uint8_t *unsigned_x;
    int8_t *im2col;
    blocks_column col = blocks_prepare(p, 4, 1, scratch, &widened, &unsigned_x, &im2col);
    int32_t k = blocks_padded_cols(p->cols);
    int32_t unified = blocks_any_unified(p);
    if (MUNIFY_DSP_REQUANT_FOLDED && col.simple) {
        munify_dsp_fold_offset((munify_dsp_requant *)(uintptr_t)col.requant, p->rows, p->q.output_offset);
    }
    int32_t *row_heads = blocks_row_heads(p, (int32_t *)(void *)(im2col + (geometry->pointwise ? 0 : 4 * k)));
    int32_t direct = blocks_direct_rows(geometry);
    int8_t *out = output;
    for (int32_t py = 0; py < pool_h; ++py) {
        for (int32_t px = 0; px < pool_w; ++px, out += p->rows) {
            blocks_source src[4];
            for (int32_t i = 0; i < 4; ++i) {
                blocks_pixel_source(geometry, direct, input, 2 * py + (i >> 1), 2 * px + (i & 1), p->cols,
                                    im2col + i * k, &src[i]);
            }
            blocks_pixel_window(&col, row_heads, unified, src, out);
        }
    }
#endif
}

#endif
