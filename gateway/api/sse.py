"""Server-sent events: the wire format and the loop that paces the live occupancy stream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

RETRY_MS = 5000  # the browser reconnects after this long if the stream drops


def sse_message(event: str, data: str, event_id: int | None = None) -> str:
    """One SSE message; ``data`` may span lines (each becomes a ``data:`` line)."""
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines += [f"data: {line}" for line in data.splitlines() or [""]]
    return "\n".join(lines) + "\n\n"


async def occupancy_events(
    read: Callable[[], Awaitable[str]],
    disconnected: Callable[[], Awaitable[bool]],
    interval_s: float,
    limit: int | None,
    sleep: Callable[[float], Awaitable[None]],
) -> AsyncIterator[str]:
    """``retry:`` first, then an ``occupancy`` event every ``interval_s`` until the client goes."""
    yield f"retry: {RETRY_MS}\n\n"
    sent = 0
    while limit is None or sent < limit:
        if await disconnected():
            return
        yield sse_message("occupancy", await read(), sent)
        sent += 1
        if limit is not None and sent >= limit:
            return
        await sleep(interval_s)
