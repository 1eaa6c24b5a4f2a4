/* Cortex-M system registers shared by the port's files. */
#ifndef MUNIFY_PORT_H
#define MUNIFY_PORT_H

#include <stdint.h>

#define STACK_PAINT 0xA5C3A5C3u

#define SCS_REG(address) (*(volatile uint32_t *)(address))
#define SYST_CSR SCS_REG(0xE000E010u)
#define SYST_RVR SCS_REG(0xE000E014u)
#define SYST_CVR SCS_REG(0xE000E018u)
#define SCB_ICSR SCS_REG(0xE000ED04u)
#define SCB_CFSR SCS_REG(0xE000ED28u)
#define SCB_HFSR SCS_REG(0xE000ED2Cu)
#define DEMCR SCS_REG(0xE000EDFCu)
#define SCB_CPUID SCS_REG(0xE000ED00u)
#define SCB_CCR SCS_REG(0xE000ED14u)
#define SCB_CCSIDR SCS_REG(0xE000ED80u)
#define SCB_CSSELR SCS_REG(0xE000ED84u)
#define SCB_ICIALLU SCS_REG(0xE000EF50u)
#define SCB_DCISW SCS_REG(0xE000EF60u)
#define DWT_CTRL SCS_REG(0xE0001000u)
#define DWT_CYCCNT SCS_REG(0xE0001004u)
#define DWT_LAR SCS_REG(0xE0001FB0u)

#define SYST_CSR_ENABLE 0x1u
#define SYST_CSR_TICKINT 0x2u
#define SYST_CSR_CLKSOURCE_CPU 0x4u
#define SCB_ICSR_PENDSTSET (1u << 26)
#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL_CYCCNTENA 0x1u
#define DWT_LAR_UNLOCK 0xC5ACCE55u
#define CPUID_PARTNO(cpuid) (((cpuid) >> 4) & 0xFFFu)
#define PARTNO_CORTEX_M7 0xC27u
#define SCB_CCR_DC (1u << 16)
#define SCB_CCR_IC (1u << 17)

/* Armv6-M (M0, M0+) and Armv8-M baseline (M23) have no DWT cycle counter. */
#if defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__)
#define HAS_CYCLE_COUNTER 0
#else
#define HAS_CYCLE_COUNTER 1
#endif

#endif
