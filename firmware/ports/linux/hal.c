/* The Linux user-mode port (e.g. AArch64 under qemu-aarch64): the protocol runs over stdin/stdout, ticks are
 * CLOCK_MONOTONIC nanoseconds, and the stack is painted below main's frame to measure its high-water mark. */
#define _POSIX_C_SOURCE 200809L

#include "hal.h"

#include <poll.h>
#include <time.h>
#include <unistd.h>

#define STACK_PAINT 0xA5C3A5C3u
#define PAINTED_STACK_BYTES (64u * 1024u)
#define PAINT_MARGIN_BYTES 256u
#define OUTPUT_BUFFER_BYTES 4096u
#define NS_PER_SECOND 1000000000ull

static uint8_t output_buffer[OUTPUT_BUFFER_BYTES];
static uint32_t output_used;
static volatile uint32_t *stack_bottom;
static volatile uint32_t *stack_top;

static void flush_output(void)
{
    uint32_t done = 0;
    while (done < output_used) {
        ssize_t written = write(STDOUT_FILENO, output_buffer + done, output_used - done);
        if (written <= 0) {
            _exit(1);
        }
        done += (uint32_t)written;
    }
    output_used = 0;
}

/* Not inlined, so its frame lies below main's and the painted range below that is unused at this point. */
__attribute__((noinline)) static void paint_stack(void)
{
    volatile uint32_t here = 0;
    stack_top = (volatile uint32_t *)((uintptr_t)&here - PAINT_MARGIN_BYTES);
    stack_bottom = stack_top - PAINTED_STACK_BYTES / sizeof(uint32_t);
    for (volatile uint32_t *word = stack_bottom; word < stack_top; word++) {
        *word = STACK_PAINT;
    }
}

void hal_init(void)
{
    paint_stack();
}

void hal_write_byte(uint8_t byte)
{
    output_buffer[output_used++] = byte;
    if (byte == '\n' || output_used == OUTPUT_BUFFER_BYTES) {
        flush_output();
    }
}

int hal_read_byte(void)
{
    uint8_t byte;
    flush_output();
    if (read(STDIN_FILENO, &byte, 1) != 1) {
        hal_exit(0); /* the host closed the line: nothing more to do */
    }
    return byte;
}

int hal_byte_waiting(void)
{
    struct pollfd input = {.fd = STDIN_FILENO, .events = POLLIN, .revents = 0};
    return poll(&input, 1, 0) > 0;
}

uint64_t hal_ticks(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * NS_PER_SECOND + (uint64_t)now.tv_nsec;
}

void hal_tick_sync(void)
{
    /* Host time has no fixed phase to align to. */
}

uint32_t hal_tick_hz(void)
{
    return (uint32_t)NS_PER_SECOND;
}

uint32_t hal_cycles(void)
{
    return 0;
}

uint32_t hal_stack_size(void)
{
    return PAINTED_STACK_BYTES;
}

uint32_t hal_stack_used(void)
{
    volatile uint32_t *word = stack_bottom;
    while (word < stack_top && *word == STACK_PAINT) {
        word++;
    }
    return (uint32_t)((uintptr_t)stack_top - (uintptr_t)word);
}

void hal_exit(int status)
{
    flush_output();
    _exit(status);
}
