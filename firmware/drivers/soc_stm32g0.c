/* STM32G0 (G0B1/G0C1) clock tree (RM0444 ch. 5): HSI16 -> PLL (M 1, N 8, R 2) -> SYSCLK 64 MHz in voltage
 * range 1 (the reset state), AHB and APB /1, 2 flash wait states. Then the UART's clock, port and pins. */
#include "soc.h"
#include "stm32.h"

#define RCC 0x40021000u
#define RCC_CR SOC_REG(RCC + 0x00u)
#define RCC_CFGR SOC_REG(RCC + 0x08u)
#define RCC_PLLCFGR SOC_REG(RCC + 0x0Cu)
#define RCC_IOPENR SOC_REG(RCC + 0x34u)
#define RCC_APBENR1 SOC_REG(RCC + 0x3Cu)
#define RCC_APBENR2 SOC_REG(RCC + 0x40u)
#define FLASH_ACR SOC_REG(0x40022000u)
#define GPIO_BASE(port) (0x50000000u + 0x400u * (port))

#define CR_HSION (1u << 8)
#define CR_HSIRDY (1u << 10)
#define CR_HSIDIV_SHIFT 11u
#define CR_PLLON (1u << 24)
#define CR_PLLRDY (1u << 25)
#define CFGR_SW_MASK 0x7u
#define CFGR_SW_PLL 0x2u
#define CFGR_SWS_SHIFT 3u
#define CFGR_HPRE_SHIFT 8u
#define CFGR_PPRE_SHIFT 12u
#define PLLCFGR_SRC_HSI 0x2u
#define PLLCFGR_PLLREN (1u << 28)
#define PLLCFGR_FIELDS (0x3u | (0x7u << 4) | (0x7Fu << 8) | PLLCFGR_PLLREN | (0x7u << 29))
#define FLASH_ACR_LATENCY_MASK 0x7u
#define FLASH_ACR_VALUE (2u | (1u << 8) | (1u << 9)) /* 2 WS, PRFTEN, ICEN */
#define HSI_HZ 16000000u

#if MUNIFY_CPU_HZ == 64000000u
#define PLL_M 1u
#define PLL_N 8u
#define PLL_R 2u
#else
#error "soc_stm32g0: clock_hz must be 64 MHz"
#endif

static int clock_tree_init(void)
{
    RCC_CR |= CR_HSION;
    if (!soc_wait(&RCC_CR, CR_HSIRDY, CR_HSIRDY)) {
        return 0;
    }
    RCC_PLLCFGR = (RCC_PLLCFGR & ~PLLCFGR_FIELDS) | PLLCFGR_SRC_HSI | ((PLL_M - 1u) << 4) | (PLL_N << 8) |
                  PLLCFGR_PLLREN | ((PLL_R - 1u) << 29);
    RCC_CR |= CR_PLLON;
    if (!soc_wait(&RCC_CR, CR_PLLRDY, CR_PLLRDY)) {
        return 0;
    }
    FLASH_ACR = (FLASH_ACR & ~(FLASH_ACR_LATENCY_MASK | (1u << 8) | (1u << 9))) | FLASH_ACR_VALUE;
    if (!soc_wait(&FLASH_ACR, FLASH_ACR_LATENCY_MASK, FLASH_ACR_VALUE & FLASH_ACR_LATENCY_MASK)) {
        return 0;
    }
    RCC_CFGR = (RCC_CFGR & ~CFGR_SW_MASK) | CFGR_SW_PLL;
    return soc_wait(&RCC_CFGR, CFGR_SW_MASK << CFGR_SWS_SHIFT, CFGR_SW_PLL << CFGR_SWS_SHIFT);
}

static SocClocks clocks_read_back(void)
{
    uint32_t cfgr = RCC_CFGR;
    uint32_t sysclk = HSI_HZ >> ((RCC_CR >> CR_HSIDIV_SHIFT) & 0x7u); /* HSISYS after reset */
    if (((cfgr >> CFGR_SWS_SHIFT) & 0x7u) == CFGR_SW_PLL) {
        uint32_t pll = RCC_PLLCFGR;
        uint32_t m = ((pll >> 4) & 0x7u) + 1u, n = (pll >> 8) & 0x7Fu, r = ((pll >> 29) & 0x7u) + 1u;
        sysclk = (pll & 0x3u) == PLLCFGR_SRC_HSI ? (uint32_t)((uint64_t)HSI_HZ * n / m / r) : 0u;
    }
    return stm32_bus_clocks(sysclk, cfgr >> CFGR_HPRE_SHIFT, cfgr >> CFGR_PPRE_SHIFT);
}

/* RCC enable bit of each U(S)ART (RM0444 5.4.15-16); their kernel clock is PCLK after reset. */
static void uart_clock_on(void)
{
    switch (MUNIFY_UART_BASE) {
    case 0x40013800u: RCC_APBENR2 |= 1u << 14; break; /* USART1 */
    case 0x40004400u: RCC_APBENR1 |= 1u << 17; break; /* USART2 */
    case 0x40004800u: RCC_APBENR1 |= 1u << 18; break; /* USART3 */
    case 0x40004C00u: RCC_APBENR1 |= 1u << 19; break; /* USART4 */
    case 0x40008000u: RCC_APBENR1 |= 1u << 20; break; /* LPUART1 */
    default: break;
    }
}

SocClocks soc_init(void)
{
    int settled = clock_tree_init();
    uart_clock_on();
    RCC_IOPENR |= (1u << MUNIFY_UART_TX_PORT) | (1u << MUNIFY_UART_RX_PORT);
    stm32_uart_pins(GPIO_BASE(0));
    SocClocks clocks = clocks_read_back();
    clocks.settled = settled;
    return clocks;
}
