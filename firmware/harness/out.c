#include "out.h"

#include <float.h>

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

#define SIGNIFICANT_DIGITS 9

static void out_zeros(int count)
{
    for (; count > 0; count--) {
        hal_write_byte('0');
    }
}

/* digits[] holds the significant digits; the first has decimal exponent `exponent`. */
static void out_positional(const char *digits, int count, int exponent)
{
    if (exponent < 0) {
        out_str("0.");
        out_zeros(-exponent - 1);
        for (int i = 0; i < count; i++) {
            hal_write_byte((uint8_t)digits[i]);
        }
        return;
    }
    for (int i = 0; i < count || i <= exponent; i++) {
        if (i == exponent + 1) {
            hal_write_byte('.');
        }
        hal_write_byte(i < count ? (uint8_t)digits[i] : '0');
    }
}

void out_float(float value)
{
    if (value != value) {
        out_str("nan");
        return;
    }
    if (value < 0.0f) {
        hal_write_byte('-');
        value = -value;
    }
    if (value == 0.0f) {
        hal_write_byte('0');
        return;
    }
    if (value > FLT_MAX) {
        out_str("inf");
        return;
    }
    double mantissa = value;
    int exponent = 0;
    while (mantissa >= 10.0) {
        mantissa /= 10.0;
        exponent++;
    }
    while (mantissa < 1.0) {
        mantissa *= 10.0;
        exponent--;
    }
    uint64_t scaled = (uint64_t)(mantissa * 1e8 + 0.5);
    if (scaled >= 1000000000u) { /* rounding carried into a tenth digit: 9.999999999 -> 10.0000000 */
        scaled /= 10u;
        exponent++;
    }
    char digits[SIGNIFICANT_DIGITS];
    for (int i = SIGNIFICANT_DIGITS - 1; i >= 0; i--) {
        digits[i] = (char)('0' + (int)(scaled % 10u));
        scaled /= 10u;
    }
    int count = SIGNIFICANT_DIGITS;
    while (count > 1 && digits[count - 1] == '0') {
        count--;
    }
    out_positional(digits, count, exponent);
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
