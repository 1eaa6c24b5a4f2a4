/* A serial driver: one file per peripheral family (uart_<driver>.c), selected by the board's
 * uart.driver key. The port's hal_write_byte / hal_read_byte forward here. */
#ifndef MUNIFY_UART_H
#define MUNIFY_UART_H

#include <stdint.h>

void uart_init(uintptr_t base, uint32_t pclk_hz, uint32_t baud);
void uart_write(uintptr_t base, uint8_t byte);
uint8_t uart_read(uintptr_t base);
/* Non-zero when a received byte waits in the data register (never blocks). */
int uart_rx_ready(uintptr_t base);

#endif
