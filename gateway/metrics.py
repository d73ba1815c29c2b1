"""Ingest metrics in the Prometheus text exposition format (no client library needed).

:class:`IngestMetrics` is updated by the ingest loop (under a lock: the HTTP
thread reads it) and rendered by :meth:`IngestMetrics.render`;
:func:`serve_metrics` exposes ``GET /metrics`` on a small threaded HTTP server.
Time comes in as arguments, so the rendering is testable.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_LOGGER = logging.getLogger(__name__)

# Batch commit latency buckets, seconds: a commit is normally 5-200 ms.
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RATE_WINDOW_S = 10.0  # ingested/s is averaged over this trailing window


@dataclass
class IngestMetrics:
    """Counters, gauges and one histogram of the ingest loop."""

    messages: Counter[str] = field(default_factory=Counter)
    """Messages received, by channel (events, status, occupancy, ...)."""
    events_stored: int = 0
    """Events written (including redeliveries the unique key then ignored)."""
    dead_letters: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    batch_errors: int = 0
    latency_buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS_S))
    latency_sum_s: float = 0.0
    lag_s: float = 0.0
    """Receive time minus ``sent_at`` of the newest committed events message."""
    waiting: int = 0
    """Messages received but not yet committed (nor acknowledged)."""
    _recent: deque[tuple[float, int]] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record_message(self, channel: str) -> None:
        with self._lock:
            self.messages[channel] += 1

    def record_batch(
        self,
        *,
        events: int,
        dead_letters: dict[str, int],
        latency_s: float,
        lag_s: float | None,
        now_s: float,
    ) -> None:
        """One committed batch; ``now_s`` is a monotonic clock reading."""
        with self._lock:
            self.batches += 1
            self.events_stored += events
            self.dead_letters.update(dead_letters)
            self.latency_sum_s += latency_s
            for i, bound in enumerate(LATENCY_BUCKETS_S):
                if latency_s <= bound:
                    self.latency_buckets[i] += 1
            if lag_s is not None:
                self.lag_s = lag_s
            self._recent.append((now_s, events))
            while self._recent and self._recent[0][0] < now_s - RATE_WINDOW_S:
                self._recent.popleft()

    def record_error(self) -> None:
        with self._lock:
            self.batch_errors += 1

    def rate_per_s(self, now_s: float) -> float:
        """Events stored per second over the trailing window ending at ``now_s``."""
        with self._lock:
            recent = [n for t, n in self._recent if t >= now_s - RATE_WINDOW_S]
        return sum(recent) / RATE_WINDOW_S

    def render(self, now_s: float) -> str:
        """The Prometheus text format (version 0.0.4)."""
        rate = self.rate_per_s(now_s)
        with self._lock:
            out = [
                "# HELP footfall_gateway_messages_total MQTT messages received, by channel.",
                "# TYPE footfall_gateway_messages_total counter",
                *(
                    f'footfall_gateway_messages_total{{channel="{c}"}} {n}'
                    for c, n in sorted(self.messages.items())
                ),
                "# HELP footfall_gateway_events_stored_total Presence events committed.",
                "# TYPE footfall_gateway_events_stored_total counter",
                f"footfall_gateway_events_stored_total {self.events_stored}",
                "# HELP footfall_gateway_ingest_rate_events_per_second Events committed per"
                f" second over the last {RATE_WINDOW_S:g} s.",
                "# TYPE footfall_gateway_ingest_rate_events_per_second gauge",
                f"footfall_gateway_ingest_rate_events_per_second {rate:.3f}",
                "# HELP footfall_gateway_dead_letters_total Payloads dead-lettered, by reason.",
                "# TYPE footfall_gateway_dead_letters_total counter",
                *(
                    f'footfall_gateway_dead_letters_total{{reason="{r}"}} {n}'
                    for r, n in sorted(self.dead_letters.items())
                ),
                "# HELP footfall_gateway_lag_seconds Receive time minus sent_at of the newest"
                " committed events message.",
                "# TYPE footfall_gateway_lag_seconds gauge",
                f"footfall_gateway_lag_seconds {self.lag_s:.3f}",
                "# HELP footfall_gateway_waiting_messages Received, not yet committed or acked.",
                "# TYPE footfall_gateway_waiting_messages gauge",
                f"footfall_gateway_waiting_messages {self.waiting}",
                "# HELP footfall_gateway_batch_errors_total Batches the database refused"
                " (retried).",
                "# TYPE footfall_gateway_batch_errors_total counter",
                f"footfall_gateway_batch_errors_total {self.batch_errors}",
                "# HELP footfall_gateway_batch_seconds Time to write and commit one batch.",
                "# TYPE footfall_gateway_batch_seconds histogram",
                *(
                    f'footfall_gateway_batch_seconds_bucket{{le="{b:g}"}} {n}'
                    for b, n in zip(LATENCY_BUCKETS_S, self.latency_buckets, strict=True)
                ),
                f'footfall_gateway_batch_seconds_bucket{{le="+Inf"}} {self.batches}',
                f"footfall_gateway_batch_seconds_sum {self.latency_sum_s:.6f}",
                f"footfall_gateway_batch_seconds_count {self.batches}",
            ]
        return "\n".join(out) + "\n"


class MetricsServer:
    """``GET /metrics`` on a daemon thread; :meth:`close` stops it."""

    def __init__(self, render: Callable[[], str], host: str, port: int) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404, "only /metrics here")
                    return
                body = render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                _LOGGER.debug("metrics: " + format, *args)  # noqa: G003

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="footfall-metrics", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
