/* The STM32 USART/LPUART register layout of the F7, L4 and G0 (RM0385 31.8, RM0432 50.8 and 51.7,
 * RM0444 33.8): CR1 0x00 (UE bit 0, RE bit 2, TE bit 3), CR2 0x04, CR3 0x08, BRR 0x0C, ISR 0x1C (ORE bit 3,
 * RXNE bit 5, TXE bit 7), ICR 0x20, RDR 0x24, TDR 0x28. Only the BRR formula differs between USART and
 * LPUART (uart_stm32_usart_v2.c, uart_stm32_lpuart.c). */
#ifndef MUNIFY_STM32_USART_V2_H
#define MUNIFY_STM32_USART_V2_H

#include "uart.h"

#define USART_REG(base, offset) (*(volatile uint32_t *)((base) + (offset)))
#define USART_CR1 0x00u
#define USART_CR2 0x04u
#define USART_CR3 0x08u
#define USART_BRR 0x0Cu
#define USART_ISR 0x1Cu
#define USART_ICR 0x20u
#define USART_RDR 0x24u
#define USART_TDR 0x28u

#define CR1_UE (1u << 0)
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define ISR_ORE (1u << 3)
#define ISR_RXNE (1u << 5)
#define ISR_TXE (1u << 7)
#define ICR_ORECF (1u << 3)

static inline void usart_v2_init(uintptr_t base, uint32_t brr)
{
    USART_REG(base, USART_CR1) = 0u;
    USART_REG(base, USART_CR2) = 0u;
    USART_REG(base, USART_CR3) = 0u;
    USART_REG(base, USART_BRR) = brr;
    USART_REG(base, USART_CR1) = CR1_UE | CR1_TE | CR1_RE;
}

static inline void usart_v2_write(uintptr_t base, uint8_t byte)
{
    while (!(USART_REG(base, USART_ISR) & ISR_TXE)) {
    }
    USART_REG(base, USART_TDR) = byte;
}

static inline int usart_v2_rx_ready(uintptr_t base)
{
    return (USART_REG(base, USART_ISR) & ISR_RXNE) != 0u;
}

/* An overrun stops reception until it is cleared: clear it while waiting (the protocol resynchronises). */
static inline uint8_t usart_v2_read(uintptr_t base)
{
    uint32_t isr;
    while (!((isr = USART_REG(base, USART_ISR)) & ISR_RXNE)) {
        if (isr & ISR_ORE) {
            USART_REG(base, USART_ICR) = ICR_ORECF;
        }
    }
    return (uint8_t)USART_REG(base, USART_RDR);
}

#endif
