/* The munify port contract: everything the harness needs from a board.
 *
 * A port (ports/<name>/) implements these functions once per CPU family; a board adds only data
 * (boards/<name>.toml) and, for a new serial peripheral, one driver file (drivers/uart_<name>.c).
 * Board parameters arrive as preprocessor definitions from the build (MUNIFY_UART_BASE,
 * MUNIFY_UART_BAUD, MUNIFY_CPU_HZ, MUNIFY_TICK_HZ, MUNIFY_SEMIHOSTING); the stack size comes from the
 * linker script (__stack_bottom, __stack_top).
 */
#ifndef MUNIFY_HAL_H
#define MUNIFY_HAL_H

#include <stdint.h>

/* Bring up clocks, the serial port and the tick counter. Called once, first thing in main(). */
void hal_init(void);

/* Blocking, polled serial I/O: one byte at a time. hal_read_byte returns 0..255. */
void hal_write_byte(uint8_t byte);
int hal_read_byte(void);
/* Non-zero when a received byte waits to be read (never blocks): lets a long `infer` stop on host input. */
int hal_byte_waiting(void);

/* Monotonic 64-bit tick counter and its frequency in Hz. */
uint64_t hal_ticks(void);
uint32_t hal_tick_hz(void);

/* Wait for the tick counter's next periodic interrupt, so a measurement that starts right after it starts
 * at a fixed phase of the tick. Under QEMU -icount this makes every tick reading exactly repeatable: the
 * interrupt fires at an exact instruction count, whereas the time the host's bytes arrive does not.
 * Ports without such an interrupt return at once. */
void hal_tick_sync(void);

/* Free-running core cycle counter (DWT CYCCNT on Cortex-M) for real boards; 0 where the core or the
 * emulator does not count cycles (QEMU reads 0). */
uint32_t hal_cycles(void);

/* Stack accounting from the painted stack: reserved size and the high-water mark in bytes. */
uint32_t hal_stack_size(void);
uint32_t hal_stack_used(void);

/* End the program with `status` (0 = success). Under QEMU this is the emulator's exit status. */
void hal_exit(int status) __attribute__((noreturn));

#endif
