/* The MLPerf Tiny / EEMBC device-under-test protocol with the munify extensions (docs/PROTOCOL.md). */
#ifndef MUNIFY_PROTOCOL_H
#define MUNIFY_PROTOCOL_H

#include <stdint.h>

/* Print the boot banner, ending with "m-ready". */
void protocol_start(void);

/* Feed one received byte; a command runs when its '%' terminator arrives. */
void protocol_feed(uint8_t byte);

#endif
