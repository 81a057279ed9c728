"""The suite's guard: a test that opens a network socket fails."""

from __future__ import annotations

import socket

import pytest


def test_outbound_connection_is_refused_before_any_packet() -> None:
    with pytest.raises(AssertionError, match="network connection"):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)
    with socket.socket() as sock, pytest.raises(AssertionError, match="network connection"):
        sock.connect(("192.0.2.1", 80))


def test_loopback_is_refused_without_the_marker() -> None:
    with socket.socket() as sock, pytest.raises(AssertionError):
        sock.connect(("127.0.0.1", 9))


@pytest.mark.loopback
def test_loopback_is_allowed_with_the_marker() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
