/* nRF52 UARTE (UART with EasyDMA; nRF52840 PS v1.7 6.34), polled, 8N1, no flow control.
 * Reception never stops: the ENDRX_STARTRX shortcut restarts it into the second of two one-byte buffers
 * (RXD.PTR is latched at each start), so a byte that arrives while the firmware handles the previous one
 * is kept. EasyDMA reads and writes RAM only: the buffers are static, never a constant in flash. */
#include "nrf_uart.h"
#include "uart.h"

#define REG(base, offset) (*(volatile uint32_t *)((base) + (offset)))
#define TASKS_STARTRX 0x000u
#define TASKS_STARTTX 0x008u
#define EVENTS_ENDRX 0x110u
#define EVENTS_ENDTX 0x120u
#define EVENTS_RXSTARTED 0x14Cu
#define UARTE_SHORTS 0x200u
#define UARTE_ENABLE 0x500u
#define UARTE_RXD_PTR 0x534u
#define UARTE_RXD_MAXCNT 0x538u
#define UARTE_TXD_PTR 0x544u
#define UARTE_TXD_MAXCNT 0x548u
#define ENABLE_UARTE 8u
#define SHORTS_ENDRX_STARTRX (1u << 5)

/* The UARTE's BAUDRATE values (nRF52840 PS v1.7, 6.34.10.30) differ from the UART's: use its table. */
static uint32_t uarte_baudrate(uint32_t baud)
{
    switch (baud) {
    case 9600u: return 0x00275000u;
    case 19200u: return 0x004EA000u;
    case 38400u: return 0x009D5000u;
    case 57600u: return 0x00EB0000u;
    case 115200u: return 0x01D60000u;
    case 230400u: return 0x03B00000u;
    case 460800u: return 0x07400000u;
    case 921600u: return 0x0F000000u;
    case 1000000u: return 0x10000000u;
    default: return nrf_baudrate(baud);
    }
}

static volatile uint8_t rx_buffers[2];
static volatile uint8_t tx_buffer;
static uint32_t rx_current; /* the buffer the byte being received lands in */

static void rx_wait_started_then_queue(uintptr_t base, uint32_t next)
{
    while (!REG(base, EVENTS_RXSTARTED)) {
    }
    REG(base, EVENTS_RXSTARTED) = 0u;
    REG(base, UARTE_RXD_PTR) = (uint32_t)(uintptr_t)&rx_buffers[next];
}

void uart_init(uintptr_t base, uint32_t pclk_hz, uint32_t baud)
{
    (void)pclk_hz;
    nrf_uart_configure(base, uarte_baudrate(baud));
    REG(base, UARTE_ENABLE) = ENABLE_UARTE;
    REG(base, UARTE_TXD_MAXCNT) = 1u;
    REG(base, UARTE_TXD_PTR) = (uint32_t)(uintptr_t)&tx_buffer;
    REG(base, UARTE_RXD_MAXCNT) = 1u;
    REG(base, UARTE_RXD_PTR) = (uint32_t)(uintptr_t)&rx_buffers[0];
    REG(base, UARTE_SHORTS) = SHORTS_ENDRX_STARTRX;
    REG(base, EVENTS_RXSTARTED) = 0u;
    REG(base, EVENTS_ENDRX) = 0u;
    rx_current = 0u;
    REG(base, TASKS_STARTRX) = 1u;
    rx_wait_started_then_queue(base, 1u);
}

void uart_write(uintptr_t base, uint8_t byte)
{
    tx_buffer = byte;
    REG(base, EVENTS_ENDTX) = 0u;
    REG(base, TASKS_STARTTX) = 1u;
    while (!REG(base, EVENTS_ENDTX)) {
    }
}

int uart_rx_ready(uintptr_t base)
{
    return REG(base, EVENTS_ENDRX) != 0u;
}

uint8_t uart_read(uintptr_t base)
{
    while (!uart_rx_ready(base)) {
    }
    REG(base, EVENTS_ENDRX) = 0u;
    uint8_t byte = rx_buffers[rx_current];
    rx_current ^= 1u;
    /* The shortcut restarted reception into rx_buffers[rx_current]; the one after goes where this byte was. */
    rx_wait_started_then_queue(base, rx_current ^ 1u);
    return byte;
}
