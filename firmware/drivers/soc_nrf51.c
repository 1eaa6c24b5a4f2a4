/* nRF51 (nRF51 RM v3.0, CLOCK ch. 13): start the 16 MHz crystal oscillator (HFCLK) for an accurate UART
 * baud rate. The core always runs at 16 MHz; the UART pins are the UART driver's (PSELTXD/PSELRXD). */
#include "soc.h"

#define CLOCK 0x40000000u
#define TASKS_HFCLKSTART SOC_REG(CLOCK + 0x000u)
#define EVENTS_HFCLKSTARTED SOC_REG(CLOCK + 0x100u)
#define NRF51_CORE_HZ 16000000u

SocClocks soc_init(void)
{
    EVENTS_HFCLKSTARTED = 0u;
    TASKS_HFCLKSTART = 1u;
    int settled = soc_wait(&EVENTS_HFCLKSTARTED, 1u, 1u);
    SocClocks clocks = {NRF51_CORE_HZ, NRF51_CORE_HZ, settled};
    return clocks;
}
