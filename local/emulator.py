"""moto in server mode, in this process, so the ASL engine, the handlers and the routing share memory."""

from __future__ import annotations

import os
import socket
from contextlib import closing
from typing import Any

from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

from local import account


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (a small race remains; callers bind right away)."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MotoEmulator:
    """A ThreadedMotoServer on one port that executes state machines for real."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port(host)
        self._server = ThreadedMotoServer(ip_address=host, port=self.port, verbose=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        # The ASL engine builds its clients for localhost:$MOTO_PORT (DESIGN "Known traps").
        os.environ["MOTO_PORT"] = str(self.port)
        # Run the real ASL instead of moto's default "every execution succeeds" mock.
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def client(self, service: str) -> Any:
        return account.client(service, self.url)
