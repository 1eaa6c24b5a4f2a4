/* The Cortex-M port: SysTick extended to 64 bits, DWT cycle counter, semihosting exit; serial I/O
 * goes to the board's UART driver. */
#include "hal.h"

#include "port.h"
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

void systick_handler(void)
{
    systick_wraps++;
}

static void systick_start(void)
{
    SYST_RVR = SYSTICK_RELOAD;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE_CPU;
}

static void cycle_counter_start(void)
{
    DEMCR |= DEMCR_TRCENA;
    DWT_CYCCNT = 0;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
}

void hal_init(void)
{
    uart_init(MUNIFY_UART_BASE, MUNIFY_CPU_HZ, MUNIFY_UART_BAUD);
    systick_start();
    cycle_counter_start();
}

void hal_write_byte(uint8_t byte)
{
    uart_write(MUNIFY_UART_BASE, byte);
}

int hal_read_byte(void)
{
    return uart_read(MUNIFY_UART_BASE);
}

/* A driver without a receive-status query only loses the early stop of a long infer. */
__attribute__((weak)) int uart_rx_ready(uintptr_t base)
{
    (void)base;
    return 0;
}

int hal_byte_waiting(void)
{
    return uart_rx_ready(MUNIFY_UART_BASE);
}

uint64_t hal_ticks(void)
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

/* A busy wait, not wfi: the core never idles, so under QEMU -icount guest time is the instruction count alone.
 * (Idle time under sleep=on, which align=on requires, follows host time and would shift the tick's phase.) */
void hal_tick_sync(void)
{
    uint32_t wraps = systick_wraps;
    while (systick_wraps == wraps) {
    }
}

uint32_t hal_tick_hz(void)
{
    return MUNIFY_TICK_HZ;
}

uint32_t hal_cycles(void)
{
    return DWT_CYCCNT;
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
