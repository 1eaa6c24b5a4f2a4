/* Arm CMSDK APB UART (MPS2, MPS3 and many Cortex-M subsystems), polled.
 * Registers: DATA 0x00, STATE 0x04 (bit0 TX full, bit1 RX full), CTRL 0x08 (bit0 TXEN, bit1 RXEN),
 * INTSTATUS 0x0C, BAUDDIV 0x10 (>= 16). */
#include "uart.h"

#define REG(base, offset) (*(volatile uint32_t *)((base) + (offset)))
#define UART_DATA 0x00u
#define UART_STATE 0x04u
#define UART_CTRL 0x08u
#define UART_BAUDDIV 0x10u

#define STATE_TX_FULL 0x1u
#define STATE_RX_FULL 0x2u
#define CTRL_TX_ENABLE 0x1u
#define CTRL_RX_ENABLE 0x2u
#define MIN_BAUDDIV 16u

void uart_init(uintptr_t base, uint32_t pclk_hz, uint32_t baud)
{
    uint32_t divider = pclk_hz / baud;
    REG(base, UART_BAUDDIV) = divider < MIN_BAUDDIV ? MIN_BAUDDIV : divider;
    REG(base, UART_CTRL) = CTRL_TX_ENABLE | CTRL_RX_ENABLE;
}

void uart_write(uintptr_t base, uint8_t byte)
{
    while (REG(base, UART_STATE) & STATE_TX_FULL) {
    }
    REG(base, UART_DATA) = byte;
}

int uart_rx_ready(uintptr_t base)
{
    return (REG(base, UART_STATE) & STATE_RX_FULL) != 0u;
}

uint8_t uart_read(uintptr_t base)
{
    while (!uart_rx_ready(base)) {
    }
    return (uint8_t)REG(base, UART_DATA);
}
