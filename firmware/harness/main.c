#include "hal.h"
#include "protocol.h"

int main(void)
{
    hal_init();
    protocol_start();
    for (;;) {
        protocol_feed((uint8_t)hal_read_byte());
    }
}
