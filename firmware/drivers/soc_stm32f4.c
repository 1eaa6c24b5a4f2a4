/* STM32F4 and STM32F7 clock tree (RM0090 ch. 6-7, RM0390 ch. 6, RM0385 ch. 4-5): HSI 16 MHz -> main PLL ->
 * SYSCLK at MUNIFY_CPU_HZ, AHB /1, APB1 /4, APB2 /2; regulator scale 1 (and over-drive above 168 MHz);
 * flash wait states for 3.3 V. Then the UART's bus clock, its GPIO port clock and its pins. */
#include "soc.h"
#include "stm32.h"

#define RCC 0x40023800u
#define RCC_CR SOC_REG(RCC + 0x00u)
#define RCC_PLLCFGR SOC_REG(RCC + 0x04u)
#define RCC_CFGR SOC_REG(RCC + 0x08u)
#define RCC_AHB1ENR SOC_REG(RCC + 0x30u)
#define RCC_APB1ENR SOC_REG(RCC + 0x40u)
#define RCC_APB2ENR SOC_REG(RCC + 0x44u)
#define PWR_CR SOC_REG(0x40007000u)
#define PWR_CSR SOC_REG(0x40007004u)
#define FLASH_ACR SOC_REG(0x40023C00u)
#define GPIO_BASE(port) (0x40020000u + 0x400u * (port))

#define CR_HSION (1u << 0)
#define CR_HSIRDY (1u << 1)
#define CR_PLLON (1u << 24)
#define CR_PLLRDY (1u << 25)
#define PLLCFGR_SRC_HSE (1u << 22)
#define PLLCFGR_FIELDS 0x0F437FFFu /* PLLM, PLLN, PLLP, PLLSRC, PLLQ */
#define CFGR_SW_MASK 0x3u
#define CFGR_SW_PLL 0x2u
#define CFGR_SWS_SHIFT 2u
#define CFGR_HPRE_SHIFT 4u
#define CFGR_PPRE1_SHIFT 10u
#define CFGR_PPRE2_SHIFT 13u
#define CFGR_PRESCALERS ((0xFu << CFGR_HPRE_SHIFT) | (0x7u << CFGR_PPRE1_SHIFT) | (0x7u << CFGR_PPRE2_SHIFT))
#define CFGR_APB1_DIV4 (0x5u << CFGR_PPRE1_SHIFT)
#define CFGR_APB2_DIV2 (0x4u << CFGR_PPRE2_SHIFT)
#define APB1ENR_PWREN (1u << 28)
#define PWR_CR_ODEN (1u << 16)
#define PWR_CR_ODSWEN (1u << 17)
#define PWR_CSR_ODRDY (1u << 16)
#define PWR_CSR_ODSWRDY (1u << 17)
#define FLASH_ACR_LATENCY_MASK 0xFu
#define FLASH_ACR_PRFTEN (1u << 8)
#define HSI_HZ 16000000u

/* SYSCLK = 16 MHz / PLL_M * PLL_N / PLL_P; the VCO input (16 / M = 2 MHz) and output (N * 2) stay in range. */
#if MUNIFY_CPU_HZ == 168000000u /* STM32F405/407: scale 1 is PWR_CR bit 14; 5 wait states */
#define PLL_N 168u
#define PLL_Q 7u
#define PWR_VOS (1u << 14)
#define OVERDRIVE 0
#define FLASH_ACR_VALUE (5u | FLASH_ACR_PRFTEN | (1u << 9) | (1u << 10)) /* + ICEN, DCEN */
#elif MUNIFY_CPU_HZ == 180000000u /* STM32F446: scale 1 is VOS = 11, over-drive; 5 wait states */
#define PLL_N 180u
#define PLL_Q 8u
#define PWR_VOS (3u << 14)
#define OVERDRIVE 1
#define FLASH_ACR_VALUE (5u | FLASH_ACR_PRFTEN | (1u << 9) | (1u << 10))
#elif MUNIFY_CPU_HZ == 216000000u /* STM32F74x: VOS = 11, over-drive; 7 wait states, ART accelerator */
#define PLL_N 216u
#define PLL_Q 9u
#define PWR_VOS (3u << 14)
#define OVERDRIVE 1
#define FLASH_ACR_VALUE (7u | FLASH_ACR_PRFTEN | (1u << 9)) /* + ARTEN */
#else
#error "soc_stm32f4: clock_hz must be 168, 180 or 216 MHz"
#endif
#define PLL_M 8u
#define PLL_P 2u

static int overdrive_on(void)
{
#if OVERDRIVE
    PWR_CR |= PWR_CR_ODEN;
    if (!soc_wait(&PWR_CSR, PWR_CSR_ODRDY, PWR_CSR_ODRDY)) {
        return 0;
    }
    PWR_CR |= PWR_CR_ODSWEN;
    return soc_wait(&PWR_CSR, PWR_CSR_ODSWRDY, PWR_CSR_ODSWRDY);
#else
    return 1;
#endif
}

/* Each step needs the one before: stop at the first unconfirmed one, still on a clock that works. */
static int clock_tree_init(void)
{
    RCC_APB1ENR |= APB1ENR_PWREN;
    PWR_CR = (PWR_CR & ~(3u << 14)) | PWR_VOS;
    RCC_CR |= CR_HSION;
    if (!soc_wait(&RCC_CR, CR_HSIRDY, CR_HSIRDY)) {
        return 0;
    }
    RCC_PLLCFGR = (RCC_PLLCFGR & ~PLLCFGR_FIELDS) | PLL_M | (PLL_N << 6) | (((PLL_P / 2u) - 1u) << 16) |
                  (PLL_Q << 24); /* source HSI; reserved bits keep their reset values */
    RCC_CR |= CR_PLLON;
    if (!soc_wait(&RCC_CR, CR_PLLRDY, CR_PLLRDY) || !overdrive_on()) {
        return 0;
    }
    FLASH_ACR = FLASH_ACR_VALUE; /* more wait states first, then the faster clock */
    if (!soc_wait(&FLASH_ACR, FLASH_ACR_LATENCY_MASK, FLASH_ACR_VALUE & FLASH_ACR_LATENCY_MASK)) {
        return 0;
    }
    RCC_CFGR = (RCC_CFGR & ~CFGR_PRESCALERS) | CFGR_APB1_DIV4 | CFGR_APB2_DIV2;
    RCC_CFGR = (RCC_CFGR & ~CFGR_SW_MASK) | CFGR_SW_PLL;
    return soc_wait(&RCC_CFGR, CFGR_SW_MASK << CFGR_SWS_SHIFT, CFGR_SW_PLL << CFGR_SWS_SHIFT);
}

/* The clocks as the registers say they are: SYSCLK from SWS and PLLCFGR, then the bus prescalers. */
static SocClocks clocks_read_back(void)
{
    uint32_t cfgr = RCC_CFGR;
    uint32_t sysclk = HSI_HZ;
    if (((cfgr >> CFGR_SWS_SHIFT) & 0x3u) == CFGR_SW_PLL && !(RCC_PLLCFGR & PLLCFGR_SRC_HSE)) {
        uint32_t pll = RCC_PLLCFGR;
        uint32_t m = pll & 0x3Fu, n = (pll >> 6) & 0x1FFu, p = (((pll >> 16) & 0x3u) + 1u) * 2u;
        sysclk = m ? (uint32_t)((uint64_t)HSI_HZ * n / m / p) : HSI_HZ;
    }
    uint32_t ppre = MUNIFY_UART_BASE >= 0x40010000u ? (cfgr >> CFGR_PPRE2_SHIFT) : (cfgr >> CFGR_PPRE1_SHIFT);
    return stm32_bus_clocks(sysclk, cfgr >> CFGR_HPRE_SHIFT, ppre);
}

/* RCC enable bit of each U(S)ART (RM0090 7.3.13-14, RM0385 5.3.13-14). */
static void uart_clock_on(void)
{
    switch (MUNIFY_UART_BASE) {
    case 0x40011000u: RCC_APB2ENR |= 1u << 4; break;  /* USART1 */
    case 0x40011400u: RCC_APB2ENR |= 1u << 5; break;  /* USART6 */
    case 0x40004400u: RCC_APB1ENR |= 1u << 17; break; /* USART2 */
    case 0x40004800u: RCC_APB1ENR |= 1u << 18; break; /* USART3 */
    case 0x40004C00u: RCC_APB1ENR |= 1u << 19; break; /* UART4 */
    case 0x40005000u: RCC_APB1ENR |= 1u << 20; break; /* UART5 */
    case 0x40007800u: RCC_APB1ENR |= 1u << 30; break; /* UART7 */
    case 0x40007C00u: RCC_APB1ENR |= 1u << 31; break; /* UART8 */
    default: break;
    }
}

SocClocks soc_init(void)
{
    int settled = clock_tree_init();
    uart_clock_on();
    RCC_AHB1ENR |= (1u << MUNIFY_UART_TX_PORT) | (1u << MUNIFY_UART_RX_PORT);
    stm32_uart_pins(GPIO_BASE(0));
    SocClocks clocks = clocks_read_back();
    clocks.settled = settled;
    return clocks;
}
