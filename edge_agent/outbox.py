"""The durable outbox: events are on disk before they are published, deleted only after PUBACK.

Storage is one SQLite file in WAL mode with ``synchronous=FULL``.

fsync discipline
    Every :meth:`Outbox.append` is one transaction that stores the events *and*
    advances the persisted sequence counter; with WAL + ``synchronous=FULL`` SQLite
    fsyncs the WAL on every commit, so a committed event survives ``kill -9`` *and*
    power loss. (``NORMAL`` would survive ``kill -9`` but could lose the last
    commits on power loss, and a lost commit would also roll the sequence back and
    reuse event ids the broker may already hold: that is why we pay for ``FULL``.)
    The pipeline appends the events of one processing step in one commit, so the
    fsync cost is per step, not per event. Deletes (after PUBACK) use the same
    setting; losing a delete on power loss only causes a re-send of identical
    event ids, which the gateway ignores.

Sequence
    ``seq`` is assigned inside the append transaction from the ``meta`` table,
    strictly increasing and never reused, even after every row was deleted.

Size bound
    At most ``max_events`` rows. When an append would exceed it, ``drop_oldest``
    deletes the oldest unsent events (their seqs leave a gap the gateway can see)
    and ``drop_newest`` refuses the new events (they get no seq). Both are
    counted in :attr:`Outbox.dropped` and persisted in ``meta``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["Outbox", "OutboxError", "OutboxItem"]

_LOGGER = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    created_s REAL NOT NULL,
    body TEXT NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('next_seq', 1);
INSERT OR IGNORE INTO meta (key, value) VALUES ('dropped_full', 0);
"""


class OutboxError(RuntimeError):
    """The outbox file cannot be opened or written (disk full, corrupt, wrong permissions)."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    seq: int
    created_s: float
    """When the event was stored, UTC POSIX seconds (for the outbox age on ``status``)."""
    body: str
    """The serialised event without ``event_id``/``seq`` (a JSON object)."""


class Outbox:
    """A bounded, crash-safe FIFO of serialised events with a persisted sequence.

    Thread-safe: the pipeline appends while the MQTT thread peeks and deletes.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_events: int = 1_000_000,
        when_full: Literal["drop_oldest", "drop_newest"] = "drop_oldest",
    ) -> None:
        if max_events < 1:
            raise ValueError(f"'max_events' must be >= 1 (got {max_events})")
        self._max_events = max_events
        self._when_full = when_full
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._depth = int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
            self._dropped = self._meta("dropped_full")
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(f"outbox: cannot open {str(path)!r}: {exc}") from None
        self.path = path

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0])

    @property
    def depth(self) -> int:
        """Events waiting for a PUBACK."""
        return self._depth

    @property
    def dropped(self) -> int:
        """Events lost to the size bound since the file was created."""
        return self._dropped

    @property
    def next_seq(self) -> int:
        with self._lock:
            return self._meta("next_seq")

    def append(self, bodies: Sequence[str], now_s: float) -> list[int]:
        """Store ``bodies`` in one durable transaction; return the seqs given (fewer if full)."""
        if not bodies:
            return []
        with self._lock:
            try:
                return self._append_locked(bodies, now_s)
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise OutboxError(f"outbox: append failed: {exc}") from None

    def _append_locked(self, bodies: Sequence[str], now_s: float) -> list[int]:
        keep = list(bodies)
        overflow = self._depth + len(keep) - self._max_events
        dropped_now = 0
        deleted_old = 0
        self._db.execute("BEGIN IMMEDIATE")
        if overflow > 0:
            if self._when_full == "drop_newest":
                dropped_now = min(overflow, len(keep))
                keep = keep[: len(keep) - dropped_now]
            else:
                from_new = max(0, len(keep) - self._max_events)
                keep = keep[from_new:]
                deleted_old = overflow - from_new
                self._db.execute(
                    "DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)",
                    (deleted_old,),
                )
                dropped_now = overflow
        first = self._meta("next_seq")
        seqs = list(range(first, first + len(keep)))
        self._db.executemany(
            "INSERT INTO events (seq, created_s, body) VALUES (?, ?, ?)",
            [(seq, now_s, body) for seq, body in zip(seqs, keep, strict=True)],
        )
        self._db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (first + len(keep),))
        if dropped_now:
            self._db.execute(
                "UPDATE meta SET value = value + ? WHERE key = 'dropped_full'", (dropped_now,)
            )
        self._db.execute("COMMIT")
        if dropped_now:
            self._dropped += dropped_now
            _LOGGER.warning(
                "outbox full (%d events): dropped %d (%s)",
                self._max_events,
                dropped_now,
                self._when_full,
            )
        self._depth = self._depth - deleted_old + len(keep)
        return seqs

    def peek(self, limit: int) -> list[OutboxItem]:
        """The oldest ``limit`` events, in seq order; they stay until :meth:`delete`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, created_s, body FROM events ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [OutboxItem(int(s), float(c), str(b)) for s, c, b in rows]

    def delete(self, seqs: Sequence[int]) -> None:
        """Forget events the broker acknowledged."""
        if not seqs:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                cur = self._db.executemany("DELETE FROM events WHERE seq = ?", [(s,) for s in seqs])
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise OutboxError(f"outbox: delete failed: {exc}") from None
            self._depth -= max(cur.rowcount, 0)

    def oldest_created_s(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT created_s FROM events ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else float(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
