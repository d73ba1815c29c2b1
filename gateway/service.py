"""The ingest process: a paho-mqtt subscriber around :mod:`gateway.ingest` and :mod:`gateway.store`.

Thread model: paho's network thread only queues messages (``on_message``); the
caller's thread classifies them, writes a batch in one transaction, commits and
only then sends the PUBACKs (``manual_ack``), oldest first. A gateway killed at
any point has acknowledged only committed messages; the broker keeps the rest in
our persistent session and delivers them again, and the unique keys make the
second copy a no-op.

Acks are tied to the connection a message arrived on: after a reconnect the
broker re-sends every unacknowledged message, so acks of the old connection are
dropped (a packet id may be reused by then).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing as mp
import os
import queue
import random
import signal
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from gateway.ingest import (
    Batcher,
    DeadLetterReason,
    EventBatch,
    Limits,
    classify,
    reject,
)
from gateway.metrics import IngestMetrics
from gateway.settings import GatewaySettings
from gateway.store import Received, WriteCounts, write_batch

_LOGGER = logging.getLogger(__name__)

__all__ = ["IngestService", "subscriptions"]

SHARED_SUBS_UNSUPPORTED = 0x9E  # MQTT 5 SUBACK reason: Shared Subscriptions not supported
RETRY_CAP_S = 30.0
GC_YOUNG_THRESHOLD = 20_000
"""Container objects allocated between young collections while ingest runs (Python: 700)."""


@dataclass
class Periodic:
    """A housekeeping job run beside the ingest loop every ``every_s`` seconds.

    On PostgreSQL the jobs run in a forked process: they may only work through the
    database (with the service's engine or connections of their own); whatever they
    change in Python objects stays in that process.
    """

    name: str
    every_s: float
    run: Callable[[], object]
    next_s: float = 0.0


@dataclass(frozen=True, slots=True)
class _Message:
    mid: int
    qos: int
    topic: str
    payload: bytes
    arrived_s: float
    generation: int


def subscriptions(root: str, shared_group: str | None) -> list[tuple[str, int]]:
    """Topic filters and QoS: events and occupancy shared, status always per gateway.

    Retained messages are never sent on a shared subscription (MQTT 5, 4.8.2),
    and every gateway may upsert the same status, so ``status`` stays unshared.
    """
    root = root.rstrip("/")
    prefix = f"$share/{shared_group}/" if shared_group else ""
    return [
        (f"{prefix}{root}/+/+/events", 1),
        (f"{prefix}{root}/+/+/occupancy", 0),
        (f"{root}/+/+/status", 1),
    ]


class IngestService:
    """Subscribe, validate, store, acknowledge; run until ``stop`` is set."""

    def __init__(
        self,
        settings: GatewaySettings,
        engine: Engine,
        metrics: IngestMetrics | None = None,
        *,
        on_batch: Callable[[], None] | None = None,
        housekeeping: Sequence[Periodic] = (),
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics or IngestMetrics()
        self.limits = Limits(
            max_payload_bytes=settings.max_payload_bytes,
            dead_letter_copy_bytes=settings.dead_letter_copy_bytes,
            topic_root=settings.topic_root,
        )
        self._on_batch = on_batch
        self._housekeeping = list(housekeeping)
        self._monotonic = monotonic
        self._wall = wall
        self._inbox: queue.Queue[_Message] = queue.Queue()
        self._generation = 0
        self._shared_group = settings.shared_group
        self._connected = threading.Event()
        self._closing = False
        self._subscribed = threading.Event()
        self._client: Any = None

    # -- paho callbacks (network thread) ---------------------------------------------------

    def _on_connect(self, client: Any, _u: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            _LOGGER.warning("broker refused the connection: %s", reason)
            return
        self._generation += 1
        available = getattr(props, "SharedSubscriptionAvailable", 1) if props else 1
        if self._shared_group and not available:
            _LOGGER.warning(
                "broker does not support shared subscriptions: subscribing without "
                "'$share/%s/' (every gateway now receives every event; still stored once)",
                self._shared_group,
            )
            self._shared_group = None
        subs = subscriptions(self.settings.topic_root, self._shared_group)
        client.subscribe(subs)
        _LOGGER.info(
            "connected to %s:%d (session present: %s), subscribed to %s",
            self.settings.mqtt_host,
            self.settings.mqtt_port,
            getattr(flags, "session_present", "?"),
            ", ".join(t for t, _ in subs),
        )
        self._connected.set()

    def wait_subscribed(self, timeout_s: float) -> bool:
        """Block until the broker acknowledged our subscription (False on timeout).

        Events published before that reach no session of ours: a caller that starts
        agents and the gateway together (``footfall demo``) waits here first.
        """
        return self._subscribed.wait(timeout_s)

    def _on_subscribe(self, client: Any, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
        self._subscribed.set()
        if self._shared_group and any(
            getattr(c, "value", c) == SHARED_SUBS_UNSUPPORTED for c in codes
        ):
            _LOGGER.warning(
                "broker refused '$share/%s/...' (shared subscriptions not supported): "
                "falling back to a plain subscription",
                self._shared_group,
            )
            old = subscriptions(self.settings.topic_root, self._shared_group)
            self._shared_group = None
            client.subscribe(subscriptions(self.settings.topic_root, None))
            client.unsubscribe([t for t, _ in old if t.startswith("$share/")])

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if self._closing:
            _LOGGER.info("disconnected from the broker (ingest stopping)")
            return
        _LOGGER.warning("disconnected from the broker (%s); paho reconnects", reason)

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # paho decodes lazily; a broken topic is still a dead letter
            topic = bytes(msg._topic).decode("utf-8", "replace")
        self._inbox.put(
            _Message(
                msg.mid, msg.qos, topic, bytes(msg.payload), self._monotonic(), self._generation
            )
        )

    # -- the loop (caller's thread) -------------------------------------------------------

    def _make_client(self) -> Any:
        import ssl

        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        s = self.settings
        v5 = s.mqtt_protocol == "5"
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=s.mqtt_client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
        )
        if not v5 and self._shared_group:
            _LOGGER.warning(
                "MQTT 3.1.1 cannot tell whether the broker supports shared subscriptions: "
                "subscribing without '$share/%s/' (every gateway receives every event; "
                "still stored once). Use mqtt_protocol=5 to share the stream.",
                self._shared_group,
            )
            self._shared_group = None
        if s.mqtt_username is not None:
            password = s.mqtt_password.get_secret_value() if s.mqtt_password else None
            client.username_pw_set(s.mqtt_username, password)
        if s.mqtt_tls:
            client.tls_set(
                ca_certs=str(s.mqtt_ca_file) if s.mqtt_ca_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=int(RETRY_CAP_S))
        if v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = s.mqtt_session_expiry_s
            props.ReceiveMaximum = s.mqtt_receive_maximum
            client.connect_async(
                s.mqtt_host, s.mqtt_port, keepalive=30, clean_start=False, properties=props
            )
        else:
            client.connect_async(s.mqtt_host, s.mqtt_port, keepalive=30)
        return client

    def run(self, stop: threading.Event, *, idle_exit_s: float | None = None) -> None:
        """Ingest until ``stop`` is set (or nothing arrived for ``idle_exit_s``, for batch jobs)."""
        self._closing = False
        # Everything alive now (modules, settings, the engine) outlives this loop: out of the
        # cyclic GC's reach while it runs, full collections walk only what ingest allocates
        # (they took ~5 us per event with the whole heap), and a forked child shares those
        # pages instead of copying them when the GC touches their headers. Young collections
        # every 700 container objects mostly walked batches still waiting for their commit.
        gc.freeze()
        gc_threshold = gc.get_threshold()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc_threshold[1:])
        # Then, before this loop starts any thread: housekeeping may run in a forked process.
        stop_housekeeping, keeper = self._start_housekeeping()
        try:
            client = self._make_client()
        except BaseException:
            self._stop_housekeeping(stop_housekeeping, keeper)
            gc.set_threshold(*gc_threshold)
            gc.unfreeze()
            raise
        self._client = client
        client.loop_start()
        batcher = Batcher(self.settings.batch_max_events, self.settings.batch_max_wait_s)
        pending: list[tuple[_Message, Received]] = []
        last_activity = self._monotonic()
        # Commits run on a writer thread, so the next batch is validated while the database
        # works on this one; at most two batches wait (backpressure on the broker via acks).
        batches: queue.Queue[list[tuple[_Message, Received]] | None] = queue.Queue(maxsize=2)
        writer = threading.Thread(
            target=self._writer_loop, args=(client, batches, stop), name="footfall-writer"
        )
        writer.start()
        try:
            while not stop.is_set():
                now = self._monotonic()
                timeout = batcher.wait_s(now)
                try:
                    msg = self._inbox.get(timeout=0.2 if timeout is None else min(timeout, 0.2))
                except queue.Empty:
                    msg = None
                if msg is not None:
                    last_activity = self._monotonic()
                    received = Received(
                        classify(msg.topic, msg.payload, self._wall(), self.limits), self._wall()
                    )
                    channel = msg.topic.rsplit("/", 1)[-1] if "/" in msg.topic else "?"
                    self.metrics.record_message(channel)
                    pending.append((msg, received))
                    weight = (
                        len(received.outcome.events)
                        if isinstance(received.outcome, EventBatch)
                        else 1
                    )
                    batcher.add(
                        weight, self._monotonic()
                    )  # from when we took it: a backlog must not force tiny batches
                    self.metrics.waiting = len(pending)
                if pending and (batcher.due(self._monotonic()) or stop.is_set()):
                    batches.put(pending)
                    pending = []
                    batcher.reset()
                    self.metrics.waiting = 0
                if (
                    idle_exit_s is not None
                    and not pending
                    and self._inbox.empty()
                    and batches.empty()
                    and self._monotonic() - last_activity > idle_exit_s
                ):
                    break
        finally:
            batches.put(None)
            writer.join()
            self._stop_housekeeping(stop_housekeeping, keeper)
            self._closing = True  # our own disconnect: no reconnect follows, nothing to warn
            client.disconnect()
            client.loop_stop()
            gc.set_threshold(*gc_threshold)
            gc.unfreeze()

    def _writer_loop(
        self,
        client: Any,
        batches: queue.Queue[list[tuple[_Message, Received]] | None],
        stop: threading.Event,
    ) -> None:
        while (batch := batches.get()) is not None:
            self._commit(client, batch, stop)

    def _start_housekeeping(self) -> tuple[Any, threading.Thread | BaseProcess | None]:
        """Start the housekeeping jobs beside ingest: ``(stop event, thread or process)``.

        Visits and retention run beside ingest, never between a message and its ack. On
        PostgreSQL they run in a process of their own (forked), so the merge's Python does
        not take the GIL from the ingest threads; on SQLite (one writer at a time) in a thread.
        """
        if not self._housekeeping:
            return threading.Event(), None
        if self.engine.dialect.name == "postgresql" and "fork" in mp.get_all_start_methods():
            ctx = mp.get_context("fork")
            stop_process = ctx.Event()
            process = ctx.Process(
                target=self._housekeeping_process,
                args=(stop_process, os.getpid()),
                name="footfall-housekeeping",
                daemon=True,
            )
            with warnings.catch_warnings():
                # Python >= 3.12 warns about forking a multi-threaded process: the child
                # only runs the jobs, on connections of its own (see _housekeeping_process).
                warnings.simplefilter("ignore", DeprecationWarning)
                process.start()
            return stop_process, process
        stop_thread = threading.Event()
        thread = threading.Thread(
            target=self._housekeeping_loop,
            args=(stop_thread,),
            name="footfall-housekeeping",
            daemon=True,
        )
        thread.start()
        return stop_thread, thread

    def _stop_housekeeping(self, stop: Any, keeper: threading.Thread | BaseProcess | None) -> None:
        """Stop the jobs and run each once more (the process does that itself, then exits)."""
        stop.set()
        if isinstance(keeper, BaseProcess):
            keeper.join()
            return
        if keeper is not None:
            keeper.join()
        self._run_housekeeping(force=True)

    def _housekeeping_process(self, stop: Any, parent_pid: int) -> None:
        """The forked housekeeping process: run the jobs until the ingest process says stop.

        The parent stops it (then it runs every job once more); signals to the process
        group are the parent's business. Pooled connections inherited from the parent are
        dropped unclosed (closing would end the parent's sessions), and the process exits
        by itself when the parent is gone (killed).
        """
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self.engine.dispose(close=False)
        while not stop.wait(0.5):
            if os.getppid() != parent_pid:
                return
            self._run_housekeeping(force=False)
        self._run_housekeeping(force=True)

    def _housekeeping_loop(self, stop: threading.Event) -> None:
        while not stop.wait(0.5):
            self._run_housekeeping(force=False)

    def _run_housekeeping(self, *, force: bool) -> None:
        for job in self._housekeeping:
            now = self._monotonic()
            if not force and now < job.next_s:
                continue
            job.next_s = now + job.every_s
            try:
                job.run()
            except OperationalError as exc:
                _LOGGER.warning("%s: database unavailable (%s)", job.name, str(exc).splitlines()[0])
            except Exception:  # a failing job must not stop ingest; it runs again next time
                _LOGGER.exception("%s failed", job.name)

    def _commit(
        self, client: Any, pending: list[tuple[_Message, Received]], stop: threading.Event
    ) -> None:
        tries = 0
        while True:
            started = self._monotonic()
            try:
                counts = self._write(pending)
                break
            except OperationalError as exc:
                # Transient (database down, lock timeout): keep the batch, unacked, and retry.
                self.metrics.record_error()
                delay = min(2.0**tries, RETRY_CAP_S) * random.uniform(0.5, 1.0)
                _LOGGER.warning(
                    "database unavailable (%s); retrying batch of %d messages in %.1f s",
                    str(exc).splitlines()[0],
                    len(pending),
                    delay,
                )
                tries += 1
                if stop.wait(delay):
                    return  # not acked: the broker delivers them again
        lag = None
        for _, r in reversed(pending):
            if isinstance(r.outcome, EventBatch):
                lag = (r.received_at - r.outcome.sent_at).total_seconds()
                break
        self.metrics.record_batch(
            events=counts.events,
            dead_letters=counts.dead_reasons,
            latency_s=self._monotonic() - started,
            lag_s=lag,
            now_s=self._monotonic(),
        )
        generation = self._generation
        for msg, _ in pending:
            if msg.qos > 0 and msg.generation == generation:
                client.ack(msg.mid, msg.qos)
        if self._on_batch is not None:
            self._on_batch()

    def _write(self, pending: list[tuple[_Message, Received]]) -> WriteCounts:
        """One transaction, or each message alone when the database refuses the batch."""
        try:
            with self.engine.begin() as conn:
                return write_batch(conn, [r for _, r in pending])
        except OperationalError:
            raise
        except (DBAPIError, SQLAlchemyError) as exc:
            _LOGGER.warning(
                "database refused a batch (%s); writing its %d messages one by one",
                exc.__class__.__name__,
                len(pending),
            )
        total = WriteCounts(0, 0, 0, 0, {})
        for msg, item in pending:
            try:
                with self.engine.begin() as conn:
                    counts = write_batch(conn, [item])
            except OperationalError:
                raise
            except (DBAPIError, SQLAlchemyError) as exc:
                refused = reject(
                    msg.topic,
                    msg.payload,
                    DeadLetterReason.DB_REJECTED,
                    f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}",
                    self.limits.dead_letter_copy_bytes,
                )
                with self.engine.begin() as conn:
                    counts = write_batch(conn, [Received(refused, item.received_at)])
            total = total + counts
        return total
