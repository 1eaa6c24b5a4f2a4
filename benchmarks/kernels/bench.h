#ifndef BENCH_H
#define BENCH_H
#include <stdint.h>

#define BENCH_INSNS_PER_TICK 40

void bench_puts(const char *s);
void bench_put_int(int32_t v);
void bench_exit(int status) __attribute__((noreturn));
void bench_timer_start(void);
uint32_t bench_timer_read(void);
uint32_t bench_timer_elapsed(uint32_t start);

#endif
