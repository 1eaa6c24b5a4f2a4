/* STM32L4+ (L4R5/L4R7/L4S5) clock tree (RM0432 ch. 5-6): HSI16 -> main PLL (M 1, N 15, R 2) -> SYSCLK
 * 120 MHz in voltage range 1 boost mode, AHB and APB /1, 5 flash wait states. Above 80 MHz the AHB runs /2
 * for the switch and goes to /1 after 1 us (RM0432 5.1.8). Port G (the NUCLEO-L4R5ZI's LPUART1 pins) is
 * powered from VDDIO2, which PWR_CR2.IOSV must declare valid. */
#include "soc.h"
#include "stm32.h"

#define RCC 0x40021000u
#define RCC_CR SOC_REG(RCC + 0x00u)
#define RCC_CFGR SOC_REG(RCC + 0x08u)
#define RCC_PLLCFGR SOC_REG(RCC + 0x0Cu)
#define RCC_AHB2ENR SOC_REG(RCC + 0x4Cu)
#define RCC_APB1ENR1 SOC_REG(RCC + 0x58u)
#define RCC_APB1ENR2 SOC_REG(RCC + 0x5Cu)
#define RCC_APB2ENR SOC_REG(RCC + 0x60u)
#define PWR_CR1 SOC_REG(0x40007000u)
#define PWR_CR2 SOC_REG(0x40007004u)
#define PWR_SR2 SOC_REG(0x40007014u)
#define PWR_CR5 SOC_REG(0x40007080u)
#define FLASH_ACR SOC_REG(0x40022000u)
#define GPIO_BASE(port) (0x48000000u + 0x400u * (port))

#define CR_MSIRANGE_SHIFT 4u
#define CR_HSION (1u << 8)
#define CR_HSIRDY (1u << 10)
#define CR_PLLON (1u << 24)
#define CR_PLLRDY (1u << 25)
#define CFGR_SW_MASK 0x3u
#define CFGR_SW_PLL 0x3u
#define CFGR_SW_HSI 0x1u
#define CFGR_SWS_SHIFT 2u
#define CFGR_HPRE_SHIFT 4u
#define CFGR_HPRE_MASK (0xFu << CFGR_HPRE_SHIFT)
#define CFGR_HPRE_DIV2 (0x8u << CFGR_HPRE_SHIFT)
#define CFGR_PPRE1_SHIFT 8u
#define CFGR_PPRE2_SHIFT 11u
#define PLLCFGR_SRC_HSI 0x2u
#define PLLCFGR_PLLREN (1u << 24)
#define PLLCFGR_FIELDS (0x3u | (0xFu << 4) | (0x7Fu << 8) | PLLCFGR_PLLREN | (0x3u << 25))
#define APB1ENR1_PWREN (1u << 28)
#define PWR_CR1_VOS_MASK (0x3u << 9)
#define PWR_CR1_VOS_RANGE1 (0x1u << 9)
#define PWR_CR2_IOSV (1u << 9)
#define PWR_SR2_VOSF (1u << 10)
#define PWR_CR5_R1MODE (1u << 8) /* 0: range 1 boost mode (SYSCLK > 80 MHz) */
#define FLASH_ACR_LATENCY_MASK 0xFu
#define FLASH_ACR_VALUE (5u | (1u << 8) | (1u << 9) | (1u << 10)) /* 5 WS, PRFTEN, ICEN, DCEN */
#define HSI_HZ 16000000u
#define BOOST_SETTLE_LOOPS 200u /* >= 1 us at 120 MHz */

#if MUNIFY_CPU_HZ == 120000000u
#define PLL_M 1u
#define PLL_N 15u
#define PLL_R 2u
#else
#error "soc_stm32l4: clock_hz must be 120 MHz"
#endif

static int regulator_boost(void)
{
    RCC_APB1ENR1 |= APB1ENR1_PWREN;
    PWR_CR1 = (PWR_CR1 & ~PWR_CR1_VOS_MASK) | PWR_CR1_VOS_RANGE1;
    PWR_CR5 &= ~PWR_CR5_R1MODE;
    PWR_CR2 |= PWR_CR2_IOSV;
    return soc_wait(&PWR_SR2, PWR_SR2_VOSF, 0u);
}

static int clock_tree_init(void)
{
    if (!regulator_boost()) {
        return 0;
    }
    RCC_CR |= CR_HSION;
    if (!soc_wait(&RCC_CR, CR_HSIRDY, CR_HSIRDY)) {
        return 0;
    }
    RCC_PLLCFGR = (RCC_PLLCFGR & ~PLLCFGR_FIELDS) | PLLCFGR_SRC_HSI | ((PLL_M - 1u) << 4) | (PLL_N << 8) |
                  PLLCFGR_PLLREN | (((PLL_R / 2u) - 1u) << 25);
    RCC_CR |= CR_PLLON;
    if (!soc_wait(&RCC_CR, CR_PLLRDY, CR_PLLRDY)) {
        return 0;
    }
    FLASH_ACR = FLASH_ACR_VALUE;
    if (!soc_wait(&FLASH_ACR, FLASH_ACR_LATENCY_MASK, FLASH_ACR_VALUE & FLASH_ACR_LATENCY_MASK)) {
        return 0;
    }
    RCC_CFGR = (RCC_CFGR & ~(CFGR_HPRE_MASK | CFGR_SW_MASK)) | CFGR_HPRE_DIV2 | CFGR_SW_PLL;
    if (!soc_wait(&RCC_CFGR, CFGR_SW_MASK << CFGR_SWS_SHIFT, CFGR_SW_PLL << CFGR_SWS_SHIFT)) {
        return 0;
    }
    for (volatile uint32_t settle = 0; settle < BOOST_SETTLE_LOOPS; settle++) {
    }
    RCC_CFGR &= ~CFGR_HPRE_MASK;
    return 1;
}

static uint32_t msi_hz(void)
{
    static const uint32_t ranges[12] = {100000u, 200000u, 400000u, 800000u, 1000000u, 2000000u,
                                        4000000u, 8000000u, 16000000u, 24000000u, 32000000u, 48000000u};
    uint32_t range = (RCC_CR >> CR_MSIRANGE_SHIFT) & 0xFu;
    return range < 12u ? ranges[range] : 4000000u;
}

static SocClocks clocks_read_back(void)
{
    uint32_t cfgr = RCC_CFGR;
    uint32_t source = (cfgr >> CFGR_SWS_SHIFT) & 0x3u;
    uint32_t sysclk = source == CFGR_SW_HSI ? HSI_HZ : msi_hz(); /* MSI after reset */
    if (source == CFGR_SW_PLL) {
        uint32_t pll = RCC_PLLCFGR;
        uint32_t input = (pll & 0x3u) == PLLCFGR_SRC_HSI ? HSI_HZ : msi_hz();
        uint32_t m = ((pll >> 4) & 0xFu) + 1u, n = (pll >> 8) & 0x7Fu, r = (((pll >> 25) & 0x3u) + 1u) * 2u;
        sysclk = (uint32_t)((uint64_t)input * n / m / r);
    }
    uint32_t ppre = MUNIFY_UART_BASE >= 0x40010000u ? (cfgr >> CFGR_PPRE2_SHIFT) : (cfgr >> CFGR_PPRE1_SHIFT);
    return stm32_bus_clocks(sysclk, cfgr >> CFGR_HPRE_SHIFT, ppre);
}

/* RCC enable bit of each U(S)ART (RM0432 6.4.19-21); LPUART1's kernel clock is PCLK1 after reset. */
static void uart_clock_on(void)
{
    switch (MUNIFY_UART_BASE) {
    case 0x40008000u: RCC_APB1ENR2 |= 1u << 0; break;  /* LPUART1 */
    case 0x40013800u: RCC_APB2ENR |= 1u << 14; break;  /* USART1 */
    case 0x40004400u: RCC_APB1ENR1 |= 1u << 17; break; /* USART2 */
    case 0x40004800u: RCC_APB1ENR1 |= 1u << 18; break; /* USART3 */
    case 0x40004C00u: RCC_APB1ENR1 |= 1u << 19; break; /* UART4 */
    case 0x40005000u: RCC_APB1ENR1 |= 1u << 20; break; /* UART5 */
    default: break;
    }
}

SocClocks soc_init(void)
{
    int settled = clock_tree_init();
    uart_clock_on();
    RCC_AHB2ENR |= (1u << MUNIFY_UART_TX_PORT) | (1u << MUNIFY_UART_RX_PORT);
    stm32_uart_pins(GPIO_BASE(0));
    SocClocks clocks = clocks_read_back();
    clocks.settled = settled;
    return clocks;
}
