"""The host side of the device protocol: a serial transport and the protocol client (docs/PROTOCOL.md)."""
