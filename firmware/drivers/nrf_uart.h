/* What the nRF UART and UARTE drivers share: the BAUDRATE register value and the PSEL pin encoding. */
#ifndef MUNIFY_NRF_UART_H
#define MUNIFY_NRF_UART_H

#include <stdint.h>

#define NRF_UART_CLOCK_HZ 16000000ull

/* BAUDRATE = baud * 2^32 / 16 MHz, rounded to a multiple of 4096 as in the datasheets' table
 * (115200 -> 0x01D7E000). */
static inline uint32_t nrf_baudrate(uint32_t baud)
{
    uint64_t exact = ((uint64_t)baud << 32) / NRF_UART_CLOCK_HZ;
    return (uint32_t)((exact + 0x800u) & 0xFFFFF000u);
}

/* PSEL: pin number in bits 0-4, port in bit 5, bit 31 clear = connected. */
static inline uint32_t nrf_psel(uint32_t port, uint32_t pin)
{
    return (port << 5) | pin;
}

#endif
