"""``footfall gateway serve``: the HTTP API and dashboard, with the ingest in the same process.

The composition root of the web side: settings in, a running uvicorn out. The ingest
loop (unless ``ingest=False``, for gateways that scale the two apart) and the optional
Home Assistant publisher run in threads beside uvicorn and stop when it stops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import Engine

from gateway.api.app import create_app
from gateway.api.mqtt import MqttPublisher, MqttTarget
from gateway.api.settings import ApiSettings
from gateway.bootstrap import Ingest
from gateway.settings import GatewaySettings

_LOGGER = logging.getLogger(__name__)

JOIN_TIMEOUT_S = 10.0


def mqtt_target(settings: GatewaySettings, suffix: str) -> MqttTarget:
    """The broker the ingest uses, under a client id of its own (``<client id>-<suffix>``)."""
    return MqttTarget(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        client_id=f"{settings.mqtt_client_id}-{suffix}",
        username=settings.mqtt_username,
        password=settings.mqtt_password.get_secret_value() if settings.mqtt_password else None,
        tls=settings.mqtt_tls,
        ca_file=settings.mqtt_ca_file,
    )


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Served:
    """The wired parts: the app, and what must start and stop around uvicorn."""

    app: FastAPI
    engine: Engine
    threads: list[tuple[str, Callable[[threading.Event], None]]] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)
    ingest: Ingest | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    _running: list[threading.Thread] = field(default_factory=list)

    def start_background(self) -> None:
        for name, target in self.threads:
            thread = threading.Thread(target=target, args=(self.stop,), name=name, daemon=True)
            thread.start()
            self._running.append(thread)

    def close(self) -> None:
        self.stop.set()
        for thread in self._running:
            thread.join(timeout=JOIN_TIMEOUT_S)
            if thread.is_alive():
                _LOGGER.warning("%s did not stop within %.0f s", thread.name, JOIN_TIMEOUT_S)
        for closer in self.closers:
            closer()
        self.engine.dispose()


def build(gateway: GatewaySettings, api: ApiSettings, *, ingest: bool = True) -> Served:
    """Wire the app (and the ingest and Home Assistant loops) from the settings."""
    from gateway.db import make_engine, make_session_factory

    engine = make_engine(gateway.database_url, pool_pre_ping=True)
    factory = make_session_factory(engine)
    publisher = MqttPublisher(mqtt_target(gateway, "api"))
    threads: list[tuple[str, Callable[[threading.Event], None]]] = []
    closers: list[Callable[[], None]] = []
    ingest_metrics: Callable[[], str] | None = None
    if ingest:
        from gateway.bootstrap import build_ingest

        wired = build_ingest(gateway)
        ingest_metrics = lambda: wired.service.metrics.render(time.monotonic())  # noqa: E731

        def _ingest(stop: threading.Event) -> None:
            wired.service.run(stop)

        threads.append(("ingest", _ingest))
        closers.append(wired.close)
    if api.homeassistant_discovery:
        from gateway.api.homeassistant import HomeAssistantLoop

        loop = HomeAssistantLoop(
            MqttPublisher(mqtt_target(gateway, "homeassistant")),
            factory,
            api.homeassistant_prefix,
            api.homeassistant_every_s,
            api.occupancy_max_age_s,
            _now,
        )
        threads.append(("homeassistant", loop.run))
    app = create_app(
        api,
        factory,
        publisher=publisher if api.push_config else None,
        topic_root=gateway.topic_root,
        clock=_now,
        ingest_metrics=ingest_metrics,
    )
    return Served(app, engine, threads, closers, wired if ingest else None)


def serve(gateway: GatewaySettings, api: ApiSettings, *, ingest: bool = True) -> None:
    """Run until SIGINT/SIGTERM (uvicorn handles them), then stop the background loops."""
    import uvicorn

    served = build(gateway, api, ingest=ingest)
    served.start_background()
    try:
        config = uvicorn.Config(
            served.app,
            host=api.host,
            port=api.port,
            log_config=None,  # the entrypoint configured logging
            proxy_headers=False,
            server_header=False,
        )
        uvicorn.Server(config).run()
    finally:
        served.close()
