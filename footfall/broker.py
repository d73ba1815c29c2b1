"""An embedded MQTT broker (amqtt) for ``footfall demo``: no Mosquitto needed on the machine.

It runs its own asyncio loop in a daemon thread; ``start()`` returns once the
listener accepts connections and ``stop()`` shuts it down cleanly. Production
uses Mosquitto (or any MQTT 3.1.1/5 broker): this is for one machine only.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

_LOGGER = logging.getLogger(__name__)


class EmbeddedBrokerError(RuntimeError):
    """The embedded broker could not start (port taken, amqtt missing)."""


class EmbeddedBroker:
    """amqtt on ``127.0.0.1:port`` (anonymous, loopback only)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or _free_port(host)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> None:
        # amqtt logs every packet at INFO; keep it to warnings unless asked.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
        self._thread = threading.Thread(target=self._run, name="embedded-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise EmbeddedBrokerError(f"embedded broker did not start within {timeout_s} s")
        if self._error is not None:
            raise EmbeddedBrokerError(
                f"embedded broker failed on {self.host}:{self.port}: {self._error}"
            ) from self._error
        _LOGGER.info("embedded MQTT broker listening on %s:%d", self.host, self.port)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        from amqtt.broker import Broker

        config: dict[str, Any] = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        broker = Broker(config)
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        await broker.start()
        self._ready.set()
        await self._stopped.wait()
        await broker.shutdown()


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port
