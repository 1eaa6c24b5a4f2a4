/* A tiny output formatter over hal_write_byte: no printf, no heap, nothing in the hot path. */
#ifndef MUNIFY_OUT_H
#define MUNIFY_OUT_H

#include <stdint.h>

void out_str(const char *text);
void out_u64(uint64_t value);
void out_i32(int32_t value);
void out_hex(const uint8_t *bytes, uint32_t count);
/* A float in plain decimal with 9 significant digits, which tell every float apart (FLT_DECIMAL_DIG), and no
 * trailing zeros: 0.99609375, -2, 1250, 0.000123. Not in any hot path (soft double on cores without it). */
void out_float(float value);

/* One protocol line: prefix, a decimal value, "\r\n" (e.g. "m-lap-us-", 1234). */
void out_line_u64(const char *prefix, uint64_t value);
/* One protocol line: prefix, "[", text, "]\r\n" (e.g. "m-model-", "ad01"). */
void out_line_bracket(const char *prefix, const char *text);
void out_end(void);

#endif
