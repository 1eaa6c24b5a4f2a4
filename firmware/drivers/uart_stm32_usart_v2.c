/* STM32 USART of the F7/L4/G0 layout (stm32_usart_v2.h), 16x oversampling: BRR = kernel clock / baud. */
#include "stm32_usart_v2.h"

void uart_init(uintptr_t base, uint32_t pclk_hz, uint32_t baud)
{
    usart_v2_init(base, (pclk_hz + baud / 2u) / baud);
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
