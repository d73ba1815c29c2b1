"""The MQTT link (paho-mqtt 2, ``CallbackAPIVersion.VERSION2``): drains the outbox, QoS 1.

One thread owns the paho client and the outbox reads/deletes:

* connect (TLS, username/password, last will ``offline`` retained on ``status``);
* on CONNACK publish the latest retained status and subscribe to ``config``;
* keep at most one events batch in flight; delete its seqs from the outbox only
  when its PUBACK arrives, so order is preserved and nothing unacknowledged is
  lost; a missing PUBACK after ``ack_timeout_s`` drops the connection and the
  batch is sent again (duplicates carry identical event ids);
* on any disconnect wait ``min(base ** tries, cap)`` seconds with jitter, then
  connect with a fresh client. Refused credentials cannot be fixed by retrying
  soon: they go straight to the cap, logged as an ERROR once.

Exceptions::

    MqttError
    +-- MqttTransientError   connection refused/lost; retrying helps
    +-- MqttPermanentError   retrying soon cannot help; retried at the cap
        +-- MqttAuthError    bad credentials or not authorised
        +-- MqttTlsError     the broker's certificate does not verify against the CA
"""

from __future__ import annotations

import enum
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from edge_agent.config import MqttSettings
from edge_agent.outbox import Outbox
from edge_agent.payloads import events_payload, split_batch

if TYPE_CHECKING:
    from paho.mqtt.client import Client

__all__ = [
    "LinkStage",
    "MqttAuthError",
    "MqttError",
    "MqttLink",
    "MqttPermanentError",
    "MqttTlsError",
    "MqttTransientError",
    "backoff_s",
]

_LOGGER = logging.getLogger(__name__)

# CONNACK reasons that retrying with the same settings cannot fix (MQTT 3.1.1 codes 4/5,
# which paho reports under their MQTT 5 names).
_AUTH_REASONS = frozenset({"Bad user name or password", "Not authorized"})
# How long one network poll blocks; bounds the latency of a new batch when idle.
_POLL_S = 0.05


class MqttError(Exception):
    """Base of this module's errors."""


class MqttTransientError(MqttError):
    """The broker is unreachable or dropped us; retrying helps."""


class MqttPermanentError(MqttError):
    """Retrying soon will not help until the config (or the broker) changes."""


class MqttAuthError(MqttPermanentError):
    """The broker refused our credentials."""


class MqttTlsError(MqttPermanentError):
    """The broker's certificate does not verify against the configured CA."""


class LinkStage(enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    AUTH_FAILED = "auth_failed"


def backoff_s(tries: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """``min(base ** tries, cap)`` scaled by a jitter in [0.5, 1.0]."""
    delay = min(base_s ** min(tries, 64), cap_s)
    return delay * (0.5 + 0.5 * rng.random())


@dataclass
class LinkCounters:
    connects: int = 0
    disconnects: int = 0
    auth_failures: int = 0
    batches_acked: int = 0
    events_acked: int = 0
    ack_timeouts: int = 0


@dataclass
class _Session:
    connack: object | None = None
    lost: object | None = None
    acked: set[int] = field(default_factory=set)


class MqttLink:
    """Owns the broker connection; see the module docstring for the protocol."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        client_id: str,
        store_id: str,
        agent_id: str,
        outbox: Outbox,
        will_payload: bytes,
        on_config: Callable[[bytes], None],
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._s = settings
        self._client_id = client_id
        self._store_id = store_id
        self._agent_id = agent_id
        self._root = f"footfall/v1/{store_id}/{agent_id}"
        self._outbox = outbox
        self._will = will_payload
        self._on_config = on_config
        self._clock = clock
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._status: bytes | None = None
        self._status_dirty = False
        self._extra: list[tuple[str, bytes, int, bool]] = []
        self._thread: threading.Thread | None = None
        self.stage = LinkStage.DISCONNECTED
        self.last_error: MqttError | None = None
        self.counters = LinkCounters()

    # -- API for the agent thread ------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-link", daemon=True)
        self._thread.start()

    def stop(self, *, final_status: bytes | None = None, timeout_s: float = 5.0) -> None:
        """Publish ``final_status`` (if connected), disconnect cleanly, join the thread."""
        if final_status is not None:
            self.set_status(final_status)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def notify(self) -> None:
        """New events are in the outbox."""
        self._wake.set()

    def set_status(self, payload: bytes) -> None:
        """Publish ``payload`` retained on ``status`` now, and again after every reconnect."""
        with self._lock:
            self._status = payload
            self._status_dirty = True
        self._wake.set()

    def publish_qos0(self, leaf: str, payload: bytes) -> None:
        """Fire-and-forget (occupancy, rssi); dropped while disconnected."""
        if self.stage is LinkStage.CONNECTED:
            with self._lock:
                self._extra.append((f"{self._root}/{leaf}", payload, 0, False))
            self._wake.set()

    # -- the link thread --------------------------------------------------------------------

    def _new_client(self) -> Client:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            clean_session=True,
            protocol=paho.MQTTv311,
            reconnect_on_failure=False,
        )
        client.max_inflight_messages_set(20)
        if self._s.username is not None:
            password = None if self._s.password is None else self._s.password.get_secret_value()
            client.username_pw_set(self._s.username, password)
        if self._s.tls:
            context = ssl.create_default_context(
                cafile=str(self._s.ca) if self._s.ca is not None else None
            )
            client.tls_set_context(context)
        client.will_set(f"{self._root}/status", self._will, qos=1, retain=True)
        return client

    def _run(self) -> None:
        tries = 0
        while not self._stop.is_set():
            self.stage = LinkStage.CONNECTING
            outcome = self._session()
            if self._stop.is_set():
                break
            if isinstance(outcome, MqttPermanentError):
                self.stage = LinkStage.AUTH_FAILED
                self.counters.auth_failures += 1
                level = logging.ERROR if self.counters.auth_failures == 1 else logging.DEBUG
                what = (
                    "refused the credentials"
                    if isinstance(outcome, MqttAuthError)
                    else "failed TLS verification"
                )
                _LOGGER.log(
                    level,
                    "broker %s:%d %s (%s); events are kept in the outbox and retried every %.0f s",
                    self._s.host,
                    self._s.port,
                    what,
                    outcome,
                    self._s.backoff_cap_s,
                )
                tries = 64  # straight to the cap
            elif outcome is None:
                tries = 0  # a session that worked resets the backoff
            else:
                self.stage = LinkStage.DISCONNECTED
                tries += 1
                level = logging.WARNING if tries == 1 else logging.DEBUG
                _LOGGER.log(
                    level, "broker %s:%d unavailable: %s", self._s.host, self._s.port, outcome
                )
            self.last_error = outcome
            delay = backoff_s(tries, self._s.backoff_base_s, self._s.backoff_cap_s, self._rng)
            self._stop.wait(delay if outcome is not None else 0.2)
        self.stage = LinkStage.DISCONNECTED

    def _session(self) -> MqttError | None:
        """One connection, until it fails or we stop; returns why it ended (None: clean)."""
        import paho.mqtt.client as paho

        client = self._new_client()
        state = _Session()

        def on_connect(c: Client, _u: object, _f: object, reason: object, _p: object) -> None:
            state.connack = reason

        def on_disconnect(c: Client, _u: object, _f: object, reason: object, _p: object) -> None:
            state.lost = reason

        def on_publish(c: Client, _u: object, mid: int, _r: object, _p: object) -> None:
            state.acked.add(mid)

        def on_message(c: Client, _u: object, msg: paho.MQTTMessage) -> None:
            self._on_config(bytes(msg.payload))

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_publish = on_publish
        client.on_message = on_message
        try:
            client.connect(self._s.host, self._s.port, keepalive=self._s.keepalive_s)
        except ssl.SSLCertVerificationError as exc:
            return MqttTlsError(f"{exc.verify_message or exc}")
        except (OSError, ssl.SSLError) as exc:
            return MqttTransientError(f"connect failed: {exc}")
        try:
            return self._serve(client, state)
        finally:
            try:
                client.disconnect()
                client.loop(timeout=0.1)
            except (OSError, ValueError):  # already closed; nothing to clean up
                pass
            self.stage = LinkStage.DISCONNECTED

    def _serve(self, client: Client, state: _Session) -> MqttError | None:
        import paho.mqtt.client as paho

        deadline = time.monotonic() + self._s.ack_timeout_s
        while state.connack is None:
            rc = client.loop(timeout=_POLL_S)
            if state.connack is not None:
                break  # a refusal closes the socket right after its CONNACK: judge the CONNACK
            if rc != paho.MQTT_ERR_SUCCESS or state.lost is not None:
                return MqttTransientError(f"connection closed before CONNACK ({rc.name})")
            if time.monotonic() > deadline or self._stop.is_set():
                return MqttTransientError("no CONNACK in time")
        reason = state.connack
        if getattr(reason, "is_failure", False):
            name = str(getattr(reason, "getName", lambda: reason)())
            if name in _AUTH_REASONS:
                return MqttAuthError(name)
            return MqttTransientError(f"connection refused: {name}")
        self.stage = LinkStage.CONNECTED
        self.counters.connects += 1
        if self.counters.connects > 1 or self.last_error is not None:
            _LOGGER.info("connected to broker %s:%d", self._s.host, self._s.port)
        self.last_error = None
        with self._lock:
            self._status_dirty = self._status is not None
        client.subscribe(f"{self._root}/config", qos=1)
        acked = state.acked
        in_flight: tuple[int, list[int], float] | None = None  # (mid, seqs, sent monotonic)
        stopping_since: float | None = None
        while True:
            self._flush_extra(client)
            if in_flight is not None and in_flight[0] in acked:
                acked.discard(in_flight[0])
                self._outbox.delete(in_flight[1])
                self.counters.batches_acked += 1
                self.counters.events_acked += len(in_flight[1])
                in_flight = None
            if in_flight is None and not self._stop.is_set():
                in_flight = self._send_batch(client)
            if in_flight is not None and time.monotonic() - in_flight[2] > self._s.ack_timeout_s:
                self.counters.ack_timeouts += 1
                return MqttTransientError(f"no PUBACK in {self._s.ack_timeout_s} s")
            if self._stop.is_set():
                # Let the final status and an in-flight batch get their acks, briefly.
                stopping_since = stopping_since or time.monotonic()
                if in_flight is None or time.monotonic() - stopping_since > 2.0:
                    return None
            self._wake.clear()
            timeout = 0.0 if (in_flight is None and self._outbox.depth) else _POLL_S
            rc = client.loop(timeout=timeout)
            if rc != paho.MQTT_ERR_SUCCESS or state.lost is not None:
                return MqttTransientError(f"connection lost ({state.lost or rc.name})")

    def _flush_extra(self, client: Client) -> None:
        with self._lock:
            extra, self._extra = self._extra, []
            status = self._status if self._status_dirty else None
            self._status_dirty = False
        if status is not None:
            client.publish(f"{self._root}/status", status, qos=1, retain=True)
        for topic, payload, qos, retain in extra:
            client.publish(topic, payload, qos=qos, retain=retain)

    def _send_batch(self, client: Client) -> tuple[int, list[int], float] | None:
        import paho.mqtt.client as paho

        items = split_batch(self._agent_id, self._outbox.peek(500))
        if not items:
            return None
        payload = events_payload(self._store_id, self._agent_id, self._clock(), items)
        info = client.publish(f"{self._root}/events", payload, qos=1)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return None
        return info.mid, [i.seq for i in items], time.monotonic()
