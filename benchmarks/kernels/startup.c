/* Bare-metal start-up for the kernel microbenchmarks: vector table, .data/.bss set-up, FPU on,
 * semihosting console and exit, and SysTick as an instruction counter (QEMU -icount shift=0 retires one
 * instruction per virtual nanosecond; SysTick runs from the 25 MHz core clock: 40 instructions a tick). */
#include <stdint.h>

#include "bench.h"

extern uint32_t _data_start, _data_end, _data_load, _bss_start, _bss_end, _stack_top;
int main(void);
void reset_handler(void);

static void fault_handler(void)
{
    bench_puts("FAULT\n");
    bench_exit(1);
}

__attribute__((section(".vectors"), used)) static const void *const vectors[16] = {
    &_stack_top, reset_handler, fault_handler, fault_handler, fault_handler, fault_handler, fault_handler,
};

void reset_handler(void)
{
    for (uint32_t *s = &_data_load, *d = &_data_start; d < &_data_end;) {
        *d++ = *s++;
    }
    for (uint32_t *d = &_bss_start; d < &_bss_end;) {
        *d++ = 0;
    }
    *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20; /* CPACR: CP10, CP11 full access */
    __asm volatile("dsb\n\tisb");
    bench_exit(main());
}

static uint32_t semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void bench_puts(const char *s)
{
    semihost(0x04, s); /* SYS_WRITE0 */
}

void bench_put_int(int32_t v)
{
    char buf[16];
    char *p = buf + sizeof buf;
    uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    *--p = 0;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        *--p = '-';
    }
    bench_puts(p);
}

void bench_exit(int status)
{
    /* SYS_EXIT: ADP_Stopped_ApplicationExit makes QEMU exit 0, any other reason exits 1 */
    semihost(0x18, (const void *)(status == 0 ? 0x20026u : 0x20024u));
    for (;;) {
    }
}

#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)

void bench_timer_start(void)
{
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 5u; /* enable, core clock, no interrupt */
}

uint32_t bench_timer_read(void)
{
    return SYST_CVR;
}

uint32_t bench_timer_elapsed(uint32_t start)
{
    return (start - SYST_CVR) & 0xFFFFFFu; /* counts down; right after start it still reads 0 */
}
