/* STM32 LPUART (stm32_usart_v2.h layout): BRR = 256 * kernel clock / baud (RM0432 51.4.7), at least 0x300. */
#include "stm32_usart_v2.h"

#define LPUART_BRR_MIN 0x300u

void uart_init(uintptr_t base, uint32_t pclk_hz, uint32_t baud)
{
    uint32_t brr = (uint32_t)((256ull * pclk_hz + baud / 2u) / baud);
    usart_v2_init(base, brr < LPUART_BRR_MIN ? LPUART_BRR_MIN : brr);
}

void uart_write(uintptr_t base, uint8_t byte)
{
    usart_v2_write(base, byte);
}

int uart_rx_ready(uintptr_t base)
{
    return usart_v2_rx_ready(base);
}

uint8_t uart_read(uintptr_t base)
{
    return usart_v2_read(base);
}
