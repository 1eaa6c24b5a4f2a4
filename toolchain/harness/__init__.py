"""The device side of the line: transports, the protocol client, and sessions that check cases on a running firmware."""
