/* A system-on-chip driver: one file per family (soc_<driver>.c), selected by the board's soc.driver key.
 * soc_init() sets the clock tree to the board's rated core clock (MUNIFY_CPU_HZ), routes the clock and the
 * pins (MUNIFY_UART_TX_PORT/PIN, MUNIFY_UART_RX_PORT/PIN, MUNIFY_UART_AF) to the UART at MUNIFY_UART_BASE,
 * and reads back the clocks the hardware then runs at.
 *
 * Every wait for a ready bit is bounded (SOC_WAIT_LOOPS polls). A wait that runs out leaves the chip on the
 * clock it was on, and soc_init reports settled = 0: QEMU models the STM32 RCC as a stub that reads 0, so
 * there no ready bit ever sets and the firmware must still boot (the port then reports the board file's
 * timer.hz, see ports/cortex-m/hal.c). */
#ifndef MUNIFY_SOC_H
#define MUNIFY_SOC_H

#include <stdint.h>

typedef struct {
    uint32_t cpu_hz;  /* core clock read back from the clock registers */
    uint32_t uart_hz; /* the UART's kernel clock (STM32: its APB clock), for the baud divider */
    int settled;      /* 1 when every step of the set-up was confirmed by its ready bit */
} SocClocks;

SocClocks soc_init(void);

#ifndef SOC_REG /* a host test maps the registers onto memory of its own (tests/target/test_soc_drivers.py) */
#define SOC_REG(address) (*(volatile uint32_t *)(address))
#endif
#define SOC_WAIT_LOOPS 200000u /* > 10 ms at 16 MHz: PLL lock takes ~0.1 ms, regulator switches ~0.05 ms */

/* Poll until (*reg & mask) == want; 0 when the bound ran out. */
static inline int soc_wait(volatile uint32_t *reg, uint32_t mask, uint32_t want)
{
    for (uint32_t poll = 0; poll < SOC_WAIT_LOOPS; poll++) {
        if ((*reg & mask) == want) {
            return 1;
        }
    }
    return 0;
}

#endif
