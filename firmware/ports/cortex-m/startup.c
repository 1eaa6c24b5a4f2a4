/* Cortex-M startup: vector table, reset handler (FPU/MVE first, then .data/.bss), stack painting and
 * a fault handler that reports on the serial line and stops with a non-zero status. */
#include <stdint.h>

#include "hal.h"
#include "port.h"

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_bottom[], __stack_top[];

int main(void);
void reset_handler(void);
void reset_continue(void);
void fault_handler(void);
void unused_handler(void);
void systick_handler(void);

#define FAULT_EXIT_STATUS 3
#define PAINT_MARGIN_WORDS 16u

typedef void (*Handler)(void);

__attribute__((section(".vectors"), used)) static const Handler vector_table[16] = {
    (Handler)(uintptr_t)__stack_top,
    reset_handler,
    fault_handler, /* NMI */
    fault_handler, /* HardFault */
    fault_handler, /* MemManage */
    fault_handler, /* BusFault */
    fault_handler, /* UsageFault */
    fault_handler, /* SecureFault (v8-M) */
    0,
    0,
    0,
    unused_handler, /* SVCall */
    unused_handler, /* DebugMonitor */
    0,
    unused_handler, /* PendSV */
    systick_handler,
};

/* No C before this: with a hard-float ABI the compiler may use FP registers anywhere, so CP10/CP11
 * (FPU and, on Armv8.1-M, MVE) are enabled in assembly first. */
__attribute__((naked, noreturn)) void reset_handler(void)
{
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    __asm volatile(
        "ldr r0, =0xE000ED88\n" /* CPACR */
        "ldr r1, [r0]\n"
        "orr r1, r1, #(0xF << 20)\n" /* CP10, CP11: full access */
        "str r1, [r0]\n"
        "dsb\n"
        "isb\n");
#endif
    __asm volatile("b reset_continue\n");
}

static void paint_stack(void)
{
    uint32_t *sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *word = __stack_bottom; word < sp - PAINT_MARGIN_WORDS; word++) {
        *word = STACK_PAINT;
    }
}

__attribute__((noreturn)) void reset_continue(void)
{
    uint32_t *src = __data_load;
    for (uint32_t *dst = __data_start; dst < __data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start; dst < __bss_end;) {
        *dst++ = 0;
    }
    paint_stack();
    hal_exit(main());
}

static void write_text(const char *text)
{
    while (*text) {
        hal_write_byte((uint8_t)*text++);
    }
}

static void write_hex32(uint32_t value)
{
    static const char digits[] = "0123456789abcdef";
    write_text("0x");
    for (int shift = 28; shift >= 0; shift -= 4) {
        hal_write_byte((uint8_t)digits[(value >> shift) & 0xFu]);
    }
}

/* frame: the registers the core stacked on exception entry (r0-r3, r12, lr, pc, xpsr). */
__attribute__((noreturn)) void fault_report(const uint32_t *frame)
{
    write_text("\r\ne-[CPU fault: the firmware crashed at pc ");
    write_hex32(frame[6]);
    write_text(", CFSR ");
    write_hex32(SCB_CFSR);
    write_text(", HFSR ");
    write_hex32(SCB_HFSR);
    write_text("]\r\n");
    hal_exit(FAULT_EXIT_STATUS);
}

/* The firmware runs on the main stack only, so the stacked frame is at MSP. */
__attribute__((naked)) void fault_handler(void)
{
    __asm volatile(
        "mrs r0, msp\n"
        "b fault_report\n");
}

void unused_handler(void)
{
    write_text("\r\ne-[Unexpected exception]\r\n");
    hal_exit(FAULT_EXIT_STATUS);
}

uint32_t hal_stack_size(void)
{
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)__stack_bottom);
}

uint32_t hal_stack_used(void)
{
    const uint32_t *word = __stack_bottom;
    while (word < __stack_top && *word == STACK_PAINT) {
        word++;
    }
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)word);
}
