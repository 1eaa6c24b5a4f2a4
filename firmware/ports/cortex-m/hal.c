/* The Cortex-M port: the SoC's clock set-up, a 64-bit tick counter (the DWT cycle counter where it runs,
 * else SysTick), semihosting exit; serial I/O goes to the board's UART driver.
 *
 * Ticks: both sources count core clock cycles. DWT CYCCNT (Armv7-M, Armv8-M mainline) is used when it is
 * seen to advance at start-up; QEMU does not implement it (reads 0) and Armv6-M / Armv8-M baseline cores
 * (M0, M0+, M23) have none, so there SysTick is the fallback. SysTick always runs: its interrupt extends
 * either counter to 64 bits and paces hal_tick_sync. */
#include "hal.h"

#include "port.h"
#include "soc.h"
#include "uart.h"

/* A wrap every 65536 ticks (2.6 ms at 25 MHz): the overflow interrupt extends the counter to 64 bits and
 * paces hal_tick_sync. */
#define SYSTICK_PERIOD (1u << 16)
#define SYSTICK_RELOAD (SYSTICK_PERIOD - 1u)

#define SEMIHOSTING_SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

/* Counts the counter's arrivals at 0 (when SysTick interrupts). Starts at 1 so the correction below never
 * goes negative before the first reload. */
static volatile uint32_t systick_wraps = 1;

static SocClocks clocks;
static int cycle_counter_runs;
static volatile uint32_t cycles_high, cycles_last;

/* CYCCNT extended to 64 bits; called at least once per SysTick period (65536 cycles), far below its wrap. */
static uint64_t cycles_extend(void)
{
    uint32_t now = DWT_CYCCNT;
    if (now < cycles_last) {
        cycles_high++;
    }
    cycles_last = now;
    return ((uint64_t)cycles_high << 32) | now;
}

void systick_handler(void)
{
    systick_wraps++;
    if (cycle_counter_runs) {
        cycles_extend();
    }
}

static void systick_start(void)
{
    SYST_RVR = SYSTICK_RELOAD;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE_CPU;
}

#if HAS_CYCLE_COUNTER
#define CYCLE_COUNTER_PROBE_LOOPS 64u

/* 1 when CYCCNT advances over a short loop; 0 under QEMU (not implemented) or with the debug block off. */
static int cycle_counter_start(void)
{
    DEMCR |= DEMCR_TRCENA;
    DWT_LAR = DWT_LAR_UNLOCK; /* Cortex-M7: the DWT ignores writes until unlocked; elsewhere ignored */
    DWT_CYCCNT = 0;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
    uint32_t before = DWT_CYCCNT;
    for (volatile uint32_t i = 0; i < CYCLE_COUNTER_PROBE_LOOPS; i++) {
    }
    return DWT_CYCCNT != before;
}
#else
static int cycle_counter_start(void)
{
    return 0;
}
#endif

/* Cortex-M7 (ARMv7-M ARM B3.5, Cortex-M7 TRM 4.8): invalidate then enable the L1 instruction and data
 * caches; without them every fetch from the STM32F7's flash waits 7 cycles. Other cores have none. QEMU
 * treats the maintenance writes as no-ops. */
static void caches_enable(void)
{
    if (CPUID_PARTNO(SCB_CPUID) != PARTNO_CORTEX_M7 || (SCB_CCR & SCB_CCR_DC)) {
        return;
    }
    __asm volatile("dsb\n isb" ::: "memory");
    SCB_ICIALLU = 0u;
    SCB_CSSELR = 0u; /* level 1 data cache */
    __asm volatile("dsb" ::: "memory");
    uint32_t ccsidr = SCB_CCSIDR;
    uint32_t sets = ((ccsidr >> 13) & 0x7FFFu) + 1u, ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
    for (uint32_t set = 0; set < sets; set++) {
        for (uint32_t way = 0; way < ways; way++) {
            SCB_DCISW = (set << 5) | (way << 30); /* 32-byte lines, 4 ways */
        }
    }
    __asm volatile("dsb" ::: "memory");
    SCB_CCR |= SCB_CCR_IC | SCB_CCR_DC;
    __asm volatile("dsb\n isb" ::: "memory");
}

void hal_init(void)
{
    caches_enable();
    clocks = soc_init();
    uart_init(MUNIFY_UART_BASE, clocks.uart_hz, MUNIFY_UART_BAUD);
    cycle_counter_runs = cycle_counter_start();
    if (cycle_counter_runs) {
        cycles_last = DWT_CYCCNT;
    }
    systick_start();
}

void hal_write_byte(uint8_t byte)
{
    uart_write(MUNIFY_UART_BASE, byte);
}

int hal_read_byte(void)
{
    return uart_read(MUNIFY_UART_BASE);
}

int hal_byte_waiting(void)
{
    return uart_rx_ready(MUNIFY_UART_BASE);
}

static uint64_t cycle_ticks(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask) : : "memory");
    uint64_t ticks = cycles_extend();
    __asm volatile("msr primask, %0" : : "r"(primask) : "memory");
    return ticks;
}

static uint64_t systick_ticks(void)
{
    uint32_t wraps, value, pending;
    do {
        wraps = systick_wraps;
        value = SYST_CVR;
        pending = SCB_ICSR & SCB_ICSR_PENDSTSET;
    } while (wraps != systick_wraps);
    uint64_t ticks = (uint64_t)wraps * SYSTICK_PERIOD + (SYSTICK_RELOAD - value);
    /* The interrupt comes when the counter reaches 0, one tick before it reloads and a period ends. */
    if (value == 0u && !pending) {
        ticks -= SYSTICK_PERIOD; /* at 0 with the interrupt already taken: its period is not over */
    } else if (pending && value > SYSTICK_RELOAD / 2u) {
        ticks += SYSTICK_PERIOD; /* reloaded, interrupt not taken yet: that period is over */
    }
    return ticks;
}

uint64_t hal_ticks(void)
{
    return cycle_counter_runs ? cycle_ticks() : systick_ticks();
}

/* A busy wait, not wfi: the core never idles, so under QEMU -icount guest time is the instruction count alone.
 * (Idle time under sleep=on, which align=on requires, follows host time and would shift the tick's phase.) */
void hal_tick_sync(void)
{
    uint32_t wraps = systick_wraps;
    while (systick_wraps == wraps) {
    }
}

/* With timer.measured (real boards): the core clock read back from the clock registers, the rate both tick
 * sources count at; after a set-up that timed out that is the reset clock, so the host sees the chip is not
 * at its rated clock. Otherwise (QEMU, whose SysTick rate is not the chip's) the board file's timer.hz. */
uint32_t hal_tick_hz(void)
{
#if MUNIFY_TICK_MEASURED
    if (clocks.cpu_hz) {
        return clocks.cpu_hz;
    }
#endif
    return MUNIFY_TICK_HZ;
}

uint32_t hal_cycles(void)
{
    return cycle_counter_runs ? DWT_CYCCNT : 0u;
}

void hal_exit(int status)
{
#if MUNIFY_SEMIHOSTING
    uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    register uint32_t operation __asm("r0") = SEMIHOSTING_SYS_EXIT_EXTENDED;
    register uint32_t *argument __asm("r1") = block;
    __asm volatile("bkpt 0xab" : : "r"(operation), "r"(argument) : "memory");
#else
    (void)status;
#endif
    for (;;) {
        __asm volatile("wfi");
    }
}
