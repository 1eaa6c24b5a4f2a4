/* Shared by the STM32 SoC drivers: the bus prescaler codes (all families) and the GPIO ports with MODER/AFR
 * registers (F2/F4/F7, L4, G0; the F1 has CRL/CRH): a pin to its alternate function.
 * Registers (RM0090 8.4, RM0385 6.4, RM0432 8.5, RM0444 7.4): MODER 0x00, OSPEEDR 0x08, PUPDR 0x0C,
 * AFRL 0x20, AFRH 0x24. */
#ifndef MUNIFY_STM32_H
#define MUNIFY_STM32_H

#include "soc.h"

#define GPIO_MODER 0x00u
#define GPIO_OSPEEDR 0x08u
#define GPIO_PUPDR 0x0Cu
#define GPIO_AFRL 0x20u
#define GPIO_MODE_ALTERNATE 0x2u
#define GPIO_SPEED_HIGH 0x2u
#define GPIO_PULL_UP 0x1u

static inline void stm32_gpio_alternate(uintptr_t port_base, uint32_t pin, uint32_t function, int pull_up)
{
    uint32_t shift2 = 2u * pin;
    uintptr_t afr = port_base + GPIO_AFRL + 4u * (pin / 8u);
    uint32_t shift4 = 4u * (pin % 8u);
    SOC_REG(afr) = (SOC_REG(afr) & ~(0xFu << shift4)) | ((function & 0xFu) << shift4);
    SOC_REG(port_base + GPIO_OSPEEDR) = (SOC_REG(port_base + GPIO_OSPEEDR) & ~(3u << shift2)) |
                                        (GPIO_SPEED_HIGH << shift2);
    SOC_REG(port_base + GPIO_PUPDR) = (SOC_REG(port_base + GPIO_PUPDR) & ~(3u << shift2)) |
                                      ((pull_up ? GPIO_PULL_UP : 0u) << shift2);
    SOC_REG(port_base + GPIO_MODER) = (SOC_REG(port_base + GPIO_MODER) & ~(3u << shift2)) |
                                      (GPIO_MODE_ALTERNATE << shift2);
}

/* The AHB/APB prescaler fields of the newer RCCs (HPRE: 0xxx /1, 1000 /2 ... 1111 /512; PPRE: 0xx /1,
 * 100 /2 ... 111 /16) as right shifts. */
static inline uint32_t stm32_ahb_shift(uint32_t hpre)
{
    static const uint8_t shifts[8] = {1, 2, 3, 4, 6, 7, 8, 9};
    return (hpre & 0x8u) ? shifts[hpre & 0x7u] : 0u;
}

static inline uint32_t stm32_apb_shift(uint32_t ppre)
{
    return (ppre & 0x4u) ? (ppre & 0x3u) + 1u : 0u;
}

/* HCLK from SYSCLK and the HPRE code, and the clock of the UART's bus from that bus's PPRE code. */
static inline SocClocks stm32_bus_clocks(uint32_t sysclk, uint32_t hpre, uint32_t ppre)
{
    uint32_t hclk = sysclk >> stm32_ahb_shift(hpre & 0xFu);
    SocClocks clocks = {hclk, hclk >> stm32_apb_shift(ppre & 0x7u), 0};
    return clocks;
}

/* The UART's TX and RX pins on MODER/AFR ports (GPIOA at gpio_base, ports 0x400 apart); RX pulled up. */
static inline void stm32_uart_pins(uintptr_t gpio_base)
{
    stm32_gpio_alternate(gpio_base + 0x400u * MUNIFY_UART_TX_PORT, MUNIFY_UART_TX_PIN, MUNIFY_UART_AF, 0);
    stm32_gpio_alternate(gpio_base + 0x400u * MUNIFY_UART_RX_PORT, MUNIFY_UART_RX_PIN, MUNIFY_UART_AF, 1);
}

#endif
