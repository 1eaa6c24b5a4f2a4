#include "out.h"

#include "hal.h"

static const char HEX_DIGITS[] = "0123456789abcdef";

void out_str(const char *text)
{
    while (*text) {
        hal_write_byte((uint8_t)*text++);
    }
}

void out_u64(uint64_t value)
{
    char digits[21];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(value % 10u));
        value /= 10u;
    } while (value != 0u);
    while (n > 0) {
        hal_write_byte((uint8_t)digits[--n]);
    }
}

void out_i32(int32_t value)
{
    if (value < 0) {
        hal_write_byte('-');
        out_u64((uint64_t)(-(int64_t)value));
    } else {
        out_u64((uint64_t)value);
    }
}

void out_hex(const uint8_t *bytes, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        hal_write_byte((uint8_t)HEX_DIGITS[bytes[i] >> 4]);
        hal_write_byte((uint8_t)HEX_DIGITS[bytes[i] & 0xFu]);
    }
}

void out_end(void)
{
    out_str("\r\n");
}

void out_line_u64(const char *prefix, uint64_t value)
{
    out_str(prefix);
    out_u64(value);
    out_end();
}

void out_line_bracket(const char *prefix, const char *text)
{
    out_str(prefix);
    hal_write_byte('[');
    out_str(text);
    hal_write_byte(']');
    out_end();
}
