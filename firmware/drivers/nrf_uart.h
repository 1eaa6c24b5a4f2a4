/* What the nRF UART and UARTE drivers share: the BAUDRATE value, the PSEL pin encoding and the pin set-up. */
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

/* The pin, baud-rate and frame registers sit at the same offsets in the UART and the UARTE. */
#define NRF_UART_PSEL_RTS 0x508u
#define NRF_UART_PSEL_TXD 0x50Cu
#define NRF_UART_PSEL_CTS 0x510u
#define NRF_UART_PSEL_RXD 0x514u
#define NRF_UART_BAUDRATE 0x524u
#define NRF_UART_CONFIG 0x56Cu
#define NRF_PSEL_DISCONNECTED 0xFFFFFFFFu

/* TX/RX on the board's pins, no flow control, 8N1, BAUDRATE register = baudrate_value. */
static inline void nrf_uart_configure(uintptr_t base, uint32_t baudrate_value)
{
    *(volatile uint32_t *)(base + NRF_UART_PSEL_TXD) = nrf_psel(MUNIFY_UART_TX_PORT, MUNIFY_UART_TX_PIN);
    *(volatile uint32_t *)(base + NRF_UART_PSEL_RXD) = nrf_psel(MUNIFY_UART_RX_PORT, MUNIFY_UART_RX_PIN);
    *(volatile uint32_t *)(base + NRF_UART_PSEL_RTS) = NRF_PSEL_DISCONNECTED;
    *(volatile uint32_t *)(base + NRF_UART_PSEL_CTS) = NRF_PSEL_DISCONNECTED;
    *(volatile uint32_t *)(base + NRF_UART_BAUDRATE) = baudrate_value;
    *(volatile uint32_t *)(base + NRF_UART_CONFIG) = 0u;
}

#endif
