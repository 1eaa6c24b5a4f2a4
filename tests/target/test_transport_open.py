"""A board that talks as soon as the host connects (QEMU with wait=on boots on connect) must not lose its first
bytes to pyserial's open(), which flushes the input buffer."""

import socket
import threading
import time

import serial.urlhandler.protocol_socket as protocol_socket

from toolchain.harness.transport import SerialTransport


def test_bytes_sent_while_the_port_opens_are_kept(monkeypatch):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def talk_on_connect():
        conn, _ = server.accept()
        conn.sendall(b"m-boot\r\nm-ready\r\n")
        time.sleep(1.0)
        conn.close()

    thread = threading.Thread(target=talk_on_connect)
    thread.start()
    slow_reconfigure = protocol_socket.Serial._reconfigure_port

    def descheduled(self, *args, **kwargs):  # the host loses the CPU inside open(), the board does not wait
        time.sleep(0.3)
        return slow_reconfigure(self, *args, **kwargs)

    monkeypatch.setattr(protocol_socket.Serial, "_reconfigure_port", descheduled)
    transport = SerialTransport(f"socket://127.0.0.1:{port}")
    try:
        assert transport.read_until("m-ready", 5.0) == ["m-boot", "m-ready"]
    finally:
        transport.close()
        thread.join()
        server.close()
