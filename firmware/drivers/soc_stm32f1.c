/* STM32F100 value line clock tree (RM0041 ch. 6): HSI 8 MHz / 2 -> PLL x 6 -> SYSCLK 24 MHz, AHB, APB1 and
 * APB2 /1; no flash wait states below 24 MHz. Then the UART's clock, its GPIO port clock and its pins
 * (F1 GPIO: CRL/CRH, four bits per pin). */
#include "soc.h"
#include "stm32.h"

#define RCC 0x40021000u
#define RCC_CR SOC_REG(RCC + 0x00u)
#define RCC_CFGR SOC_REG(RCC + 0x04u)
#define RCC_APB2ENR SOC_REG(RCC + 0x18u)
#define RCC_APB1ENR SOC_REG(RCC + 0x1Cu)
#define GPIO_BASE(port) (0x40010800u + 0x400u * (port))

#define CR_HSION (1u << 0)
#define CR_HSIRDY (1u << 1)
#define CR_PLLON (1u << 24)
#define CR_PLLRDY (1u << 25)
#define CFGR_SW_MASK 0x3u
#define CFGR_SW_PLL 0x2u
#define CFGR_SWS_SHIFT 2u
#define CFGR_PLLSRC_HSE (1u << 16)
#define CFGR_PLLMUL_SHIFT 18u
#define CFGR_PLL_FIELDS ((1u << 16) | (1u << 17) | (0xFu << CFGR_PLLMUL_SHIFT))
#define APB2ENR_AFIOEN (1u << 0)
#define HSI_HZ 8000000u
#define GPIO_TX_AF_PUSH_PULL_2MHZ 0xAu /* CNF 10, MODE 10 */
#define GPIO_RX_FLOATING_INPUT 0x4u    /* CNF 01, MODE 00 */

#if MUNIFY_CPU_HZ == 24000000u
#define PLL_MUL 6u
#else
#error "soc_stm32f1: clock_hz must be 24 MHz (HSI / 2 x 6)"
#endif

static int clock_tree_init(void)
{
    RCC_CR |= CR_HSION;
    if (!soc_wait(&RCC_CR, CR_HSIRDY, CR_HSIRDY)) {
        return 0;
    }
    RCC_CFGR = (RCC_CFGR & ~CFGR_PLL_FIELDS) | ((PLL_MUL - 2u) << CFGR_PLLMUL_SHIFT); /* source HSI / 2 */
    RCC_CR |= CR_PLLON;
    if (!soc_wait(&RCC_CR, CR_PLLRDY, CR_PLLRDY)) {
        return 0;
    }
    RCC_CFGR = (RCC_CFGR & ~CFGR_SW_MASK) | CFGR_SW_PLL;
    return soc_wait(&RCC_CFGR, CFGR_SW_MASK << CFGR_SWS_SHIFT, CFGR_SW_PLL << CFGR_SWS_SHIFT);
}

static SocClocks clocks_read_back(void)
{
    uint32_t cfgr = RCC_CFGR;
    uint32_t sysclk = HSI_HZ;
    if (((cfgr >> CFGR_SWS_SHIFT) & 0x3u) == CFGR_SW_PLL && !(cfgr & CFGR_PLLSRC_HSE)) {
        uint32_t mul = ((cfgr >> CFGR_PLLMUL_SHIFT) & 0xFu) + 2u;
        sysclk = HSI_HZ / 2u * (mul > 16u ? 16u : mul);
    }
    uint32_t ppre = MUNIFY_UART_BASE >= 0x40010000u ? (cfgr >> 11) : (cfgr >> 8);
    return stm32_bus_clocks(sysclk, cfgr >> 4, ppre);
}

static void uart_clock_on(void)
{
    switch (MUNIFY_UART_BASE) {
    case 0x40013800u: RCC_APB2ENR |= 1u << 14; break; /* USART1 */
    case 0x40004400u: RCC_APB1ENR |= 1u << 17; break; /* USART2 */
    case 0x40004800u: RCC_APB1ENR |= 1u << 18; break; /* USART3 */
    default: break;
    }
}

static void gpio_configure(uint32_t port, uint32_t pin, uint32_t config)
{
    uintptr_t reg = GPIO_BASE(port) + (pin < 8u ? 0x00u : 0x04u); /* CRL, CRH */
    uint32_t shift = 4u * (pin % 8u);
    SOC_REG(reg) = (SOC_REG(reg) & ~(0xFu << shift)) | (config << shift);
}

SocClocks soc_init(void)
{
    int settled = clock_tree_init();
    uart_clock_on();
    RCC_APB2ENR |= APB2ENR_AFIOEN | (1u << (2u + MUNIFY_UART_TX_PORT)) | (1u << (2u + MUNIFY_UART_RX_PORT));
    gpio_configure(MUNIFY_UART_TX_PORT, MUNIFY_UART_TX_PIN, GPIO_TX_AF_PUSH_PULL_2MHZ);
    gpio_configure(MUNIFY_UART_RX_PORT, MUNIFY_UART_RX_PIN, GPIO_RX_FLOATING_INPUT);
    SocClocks clocks = clocks_read_back();
    clocks.settled = settled;
    return clocks;
}
