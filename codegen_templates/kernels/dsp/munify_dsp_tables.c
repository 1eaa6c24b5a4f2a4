/* Tables shared by the munify DSP kernels (one copy per image). */
#include <stdint.h>

/* Byte masks of 8 sign bits for USAD8: bit j set -> byte j is 0xFF. Entry b is {bytes 0-3, bytes 4-7}. */
#define MASK_BYTE(b, j) (((((uint32_t)(b)) >> (j)) & 1u) * (0xFFu << (8u * ((j) & 3u))))
#define MASK_ENTRY(b)                                                                                        \
    {MASK_BYTE(b, 0) | MASK_BYTE(b, 1) | MASK_BYTE(b, 2) | MASK_BYTE(b, 3),                                  \
     MASK_BYTE(b, 4) | MASK_BYTE(b, 5) | MASK_BYTE(b, 6) | MASK_BYTE(b, 7)}
#define MASK_ENTRIES4(b) MASK_ENTRY(b), MASK_ENTRY((b) + 1), MASK_ENTRY((b) + 2), MASK_ENTRY((b) + 3)
#define MASK_ENTRIES16(b) MASK_ENTRIES4(b), MASK_ENTRIES4((b) + 4), MASK_ENTRIES4((b) + 8), MASK_ENTRIES4((b) + 12)
#define MASK_ENTRIES64(b)                                                                                    \
    MASK_ENTRIES16(b), MASK_ENTRIES16((b) + 16), MASK_ENTRIES16((b) + 32), MASK_ENTRIES16((b) + 48)

const uint32_t munify_dsp_sign_masks[256][2] = {MASK_ENTRIES64(0), MASK_ENTRIES64(64), MASK_ENTRIES64(128),
                                                MASK_ENTRIES64(192)};
