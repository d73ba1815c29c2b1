"""The durable outbox: order, persisted sequence, size policy, and crash safety under SIGKILL."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edge_agent.outbox import Outbox, OutboxError


def bodies(n: int, tag: str = "e") -> list[str]:
    return [f'{{"n":"{tag}{i}"}}' for i in range(n)]


def test_peek_returns_events_in_seq_order_until_deleted(tmp_path: Path) -> None:
    """Peek yields the oldest events in seq order and keeps them until they are deleted."""
    box = Outbox(tmp_path / "o.sqlite")
    assert box.append(bodies(3), now_s=10.0) == [1, 2, 3]
    assert box.append(bodies(2, "f"), now_s=11.0) == [4, 5]
    items = box.peek(4)
    assert [i.seq for i in items] == [1, 2, 3, 4]
    assert items[3].body == '{"n":"f0"}'
    box.delete([1, 2])
    assert [i.seq for i in box.peek(10)] == [3, 4, 5]
    assert box.depth == 3
    assert box.oldest_created_s() == 10.0


def test_seq_is_persisted_and_never_reused_after_reopen_and_drain(tmp_path: Path) -> None:
    """After every event was deleted and the file reopened, numbering continues, never restarts."""
    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    box.append(bodies(5), now_s=1.0)
    box.delete([1, 2, 3, 4, 5])
    box.close()
    again = Outbox(path)
    assert again.depth == 0
    assert again.append(bodies(1), now_s=2.0) == [6]


def test_drop_oldest_policy_deletes_oldest_and_counts(tmp_path: Path) -> None:
    """When full, drop_oldest removes the oldest unsent events, counts them, and keeps new ones."""
    path = tmp_path / "o.sqlite"
    box = Outbox(path, max_events=5, when_full="drop_oldest")
    box.append(bodies(4), now_s=1.0)
    assert box.append(bodies(3, "n"), now_s=2.0) == [5, 6, 7]
    assert [i.seq for i in box.peek(10)] == [3, 4, 5, 6, 7]
    assert box.depth == 5
    assert box.dropped == 2
    box.close()
    assert Outbox(path, max_events=5).dropped == 2


def test_drop_newest_policy_refuses_new_events_without_a_seq(tmp_path: Path) -> None:
    """When full, drop_newest keeps history, refuses the overflow and gives it no seq."""
    box = Outbox(tmp_path / "o.sqlite", max_events=5, when_full="drop_newest")
    box.append(bodies(4), now_s=1.0)
    assert box.append(bodies(3, "n"), now_s=2.0) == [5]
    assert [i.seq for i in box.peek(10)] == [1, 2, 3, 4, 5]
    assert box.dropped == 2
    assert box.append(bodies(1, "x"), now_s=3.0) == []
    box.delete([1])
    assert box.append(bodies(1, "y"), now_s=4.0) == [6]


def test_a_batch_larger_than_the_bound_keeps_its_newest_part(tmp_path: Path) -> None:
    """One append bigger than max_events under drop_oldest keeps only its newest events."""
    box = Outbox(tmp_path / "o.sqlite", max_events=3)
    box.append(bodies(2), now_s=1.0)
    assert box.append(bodies(5, "n"), now_s=2.0) == [3, 4, 5]
    assert [i.body for i in box.peek(10)] == ['{"n":"n2"}', '{"n":"n3"}', '{"n":"n4"}']
    assert box.dropped == 4
    assert box.depth == 3


def test_unwritable_location_raises_outbox_error(tmp_path: Path) -> None:
    """A path that cannot hold a database fails with an OutboxError naming the path."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutboxError, match="file"):
        Outbox(blocker / "o.sqlite")


def test_uses_wal_with_full_synchronous(tmp_path: Path) -> None:
    """The file is in WAL mode and the connection commits with synchronous=FULL."""
    box = Outbox(tmp_path / "o.sqlite")
    assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from edge_agent.outbox import Outbox
    box = Outbox(Path(sys.argv[1]))
    n = 0
    while True:
        seqs = box.append(['{"k":%d}' % (n + i) for i in range(7)], now_s=float(n))
        n += 7
        if len(seqs) % 2 == 0 or n % 3 == 0:
            box.delete(seqs[:2])
        print(seqs[-1], flush=True)
    """
)


def test_committed_events_survive_sigkill(tmp_path: Path) -> None:
    """Every append reported before a SIGKILL is on disk afterwards, and numbering continues."""
    path = tmp_path / "o.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    reported: list[int] = []
    for line in proc.stdout:
        reported.append(int(line))
        if len(reported) >= 200:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    box = Outbox(path)
    stored = {i.seq for i in box.peek(1_000_000)}
    last = reported[-1]
    # Every event of a reported batch, except the two deleted ones, is still there.
    for batch_last in reported:
        batch = set(range(batch_last - 6, batch_last + 1))
        assert len(batch & stored) >= 5, f"batch ending {batch_last} lost events"
    assert box.next_seq > last
    assert box.append(['{"after":1}'], now_s=0.0)[0] > last
