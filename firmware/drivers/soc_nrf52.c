/* nRF52840 (Product Specification v1.7, CLOCK 6.4): start the 64 MHz crystal oscillator (HFXO) and read back
 * HFCLKSTAT (source crystal, running). The core always runs at 64 MHz (from HFINT until HFXO runs); the
 * UART pins are the UARTE driver's (PSEL.TXD/PSEL.RXD). */
#include "soc.h"

#define CLOCK 0x40000000u
#define TASKS_HFCLKSTART SOC_REG(CLOCK + 0x000u)
#define EVENTS_HFCLKSTARTED SOC_REG(CLOCK + 0x100u)
#define HFCLKSTAT SOC_REG(CLOCK + 0x40Cu)
#define HFCLKSTAT_XTAL_RUNNING ((1u << 0) | (1u << 16))
#define NRF52_CORE_HZ 64000000u
#define NRF52_UART_HZ 16000000u /* the UARTE's BAUDRATE values are fractions of 16 MHz */

SocClocks soc_init(void)
{
    EVENTS_HFCLKSTARTED = 0u;
    TASKS_HFCLKSTART = 1u;
    int settled = soc_wait(&EVENTS_HFCLKSTARTED, 1u, 1u) &&
                  soc_wait(&HFCLKSTAT, HFCLKSTAT_XTAL_RUNNING, HFCLKSTAT_XTAL_RUNNING);
    SocClocks clocks = {NRF52_CORE_HZ, NRF52_UART_HZ, settled};
    return clocks;
}
