/* Boards whose clocks need no set-up (the MPS2/MPS3 FPGA images run at a fixed clock): the board file's
 * clock_hz is the core and UART clock. */
#include "soc.h"

SocClocks soc_init(void)
{
    SocClocks clocks = {MUNIFY_CPU_HZ, MUNIFY_CPU_HZ, 1};
    return clocks;
}
