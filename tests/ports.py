"""A free TCP port for the tests' distributed runs (gloo's rendezvous): a fixed port would collide
between test runs, or between the workers of one (pytest-xdist), on one machine."""
from __future__ import annotations

import socket


def free_port() -> int:
    """A port of the loopback address that no socket holds now (the system picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
