"""Shared fixtures, and a guard that fails any test that opens a network socket.

Loopback is allowed only for tests that opt in with ``@pytest.mark.loopback`` (the
emitter's HTTP server and the HTTP TSA are tested for real on 127.0.0.1).
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.hypothesis_profiles import load_profile

load_profile()  # $HYPOTHESIS_PROFILE: ci (default), dev or long


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "loopback: the test may connect to 127.0.0.1 / ::1 only")


def _is_loopback(address: Any) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")
    return isinstance(address, (str, bytes))  # AF_UNIX paths never leave the machine


@pytest.fixture(autouse=True)
def _network_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    allow_loopback = request.node.get_closest_marker("loopback") is not None
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded(address: Any) -> None:
        if not (allow_loopback and _is_loopback(address)):
            raise AssertionError(f"test tried to open a network connection to {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        guarded(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guarded(address)
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        guarded(address)
        return real_create_connection(address, *args, **kwargs)

    real_create_connection = socket.create_connection
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
