"""The unit suite's own guarantee: a test that opens a socket fails."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketBlockedError


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_opening_a_socket_in_a_unit_test_is_blocked() -> None:
    # Given the autouse no-network fixture, When a test creates a socket, Then it is refused.
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
