/* STM32 USART, F1/F2/F4 register layout (RM0041 23.6, RM0090 30.6, RM0390 25.6), polled, 8N1.
 * SR 0x00 (RXNE bit 5, TXE bit 7), DR 0x04, BRR 0x08 (pclk / baud with 16x oversampling), CR1 0x0C (UE bit 13,
 * TE bit 3, RE bit 2). Reading SR then DR also clears an overrun. */
#include "uart.h"

#define REG(base, offset) (*(volatile uint32_t *)((base) + (offset)))
#define USART_SR 0x00u
#define USART_DR 0x04u
#define USART_BRR 0x08u
#define USART_CR1 0x0Cu
#define USART_CR2 0x10u
#define USART_CR3 0x14u

#define SR_RXNE (1u << 5)
#define SR_TXE (1u << 7)
#define CR1_UE (1u << 13)
#define CR1_TE (1u << 3)
#define CR1_RE (1u << 2)

void uart_init(uintptr_t base, uint32_t pclk_hz, uint32_t baud)
{
    REG(base, USART_CR1) = 0u;
    REG(base, USART_CR2) = 0u; /* 1 stop bit */
    REG(base, USART_CR3) = 0u; /* no flow control */
    REG(base, USART_BRR) = (pclk_hz + baud / 2u) / baud;
    REG(base, USART_CR1) = CR1_UE | CR1_TE | CR1_RE;
}

void uart_write(uintptr_t base, uint8_t byte)
{
    while (!(REG(base, USART_SR) & SR_TXE)) {
    }
    REG(base, USART_DR) = byte;
}

int uart_rx_ready(uintptr_t base)
{
    return (REG(base, USART_SR) & SR_RXNE) != 0u;
}

uint8_t uart_read(uintptr_t base)
{
    while (!uart_rx_ready(base)) {
    }
    return (uint8_t)REG(base, USART_DR);
}
