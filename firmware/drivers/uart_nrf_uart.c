/* nRF51/nRF52 UART (no EasyDMA; nRF51 RM v3.0 ch. 29), polled, 8N1, no flow control.
 * STARTRX 0x000, STARTTX 0x008, EVENTS_RXDRDY 0x108, EVENTS_TXDRDY 0x11C, ENABLE 0x500 (4), PSELTXD 0x50C,
 * PSELRXD 0x514, RXD 0x518, TXD 0x51C, BAUDRATE 0x524, CONFIG 0x56C. */
#include "nrf_uart.h"
#include "uart.h"

#define REG(base, offset) (*(volatile uint32_t *)((base) + (offset)))
#define TASKS_STARTRX 0x000u
#define TASKS_STARTTX 0x008u
#define EVENTS_RXDRDY 0x108u
#define EVENTS_TXDRDY 0x11Cu
#define UART_ENABLE 0x500u
#define UART_RXD 0x518u
#define UART_TXD 0x51Cu
#define ENABLE_UART 4u

void uart_init(uintptr_t base, uint32_t pclk_hz, uint32_t baud)
{
    (void)pclk_hz; /* the baud generator always runs from the 16 MHz HFCLK */
    nrf_uart_configure(base, nrf_baudrate(baud));
    REG(base, UART_ENABLE) = ENABLE_UART;
    REG(base, EVENTS_RXDRDY) = 0u;
    REG(base, TASKS_STARTTX) = 1u;
    REG(base, TASKS_STARTRX) = 1u;
}

void uart_write(uintptr_t base, uint8_t byte)
{
    REG(base, EVENTS_TXDRDY) = 0u;
    REG(base, UART_TXD) = byte;
    while (!REG(base, EVENTS_TXDRDY)) {
    }
}

int uart_rx_ready(uintptr_t base)
{
    return REG(base, EVENTS_RXDRDY) != 0u;
}

uint8_t uart_read(uintptr_t base)
{
    while (!uart_rx_ready(base)) {
    }
    REG(base, EVENTS_RXDRDY) = 0u; /* before reading RXD: the next byte may already be in the FIFO */
    return (uint8_t)REG(base, UART_RXD);
}
