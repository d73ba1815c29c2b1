"""Batching decisions and the Prometheus text of the ingest metrics."""

from __future__ import annotations

from gateway.ingest import Batcher
from gateway.metrics import IngestMetrics


def test_commit_when_enough_events_wait() -> None:
    """A batch falls due as soon as the waiting events reach the limit."""
    b = Batcher(max_events=100, max_wait_s=1.0)
    b.add(60, arrived_s=10.0)
    assert not b.due(10.0)
    b.add(40, arrived_s=10.1)
    assert b.due(10.1)


def test_commit_when_the_oldest_waited_long_enough() -> None:
    """A lone small message is committed once it has waited max_wait_s."""
    b = Batcher(max_events=100, max_wait_s=0.25)
    assert b.wait_s(5.0) is None
    b.add(1, arrived_s=5.0)
    assert b.wait_s(5.1) is not None
    assert not b.due(5.2)
    assert b.due(5.25)
    b.reset()
    assert not b.due(100.0)


def test_non_event_messages_weigh_one() -> None:
    """A status or dead letter counts as one towards the batch size."""
    b = Batcher(max_events=2, max_wait_s=10.0)
    b.add(0, 0.0)
    b.add(0, 0.0)
    assert b.due(0.0)


def test_metrics_text() -> None:
    """The text holds counters, the windowed rate, dead letters by reason and a histogram."""
    m = IngestMetrics()
    m.record_message("events")
    m.record_message("events")
    m.record_batch(events=500, dead_letters={"not_json": 2}, latency_s=0.03, lag_s=1.5, now_s=100.0)
    m.record_batch(events=500, dead_letters={"invalid": 1}, latency_s=3.0, lag_s=0.5, now_s=105.0)
    text = m.render(now_s=105.0)
    assert 'footfall_gateway_messages_total{channel="events"} 2' in text
    assert "footfall_gateway_events_stored_total 1000" in text
    assert "footfall_gateway_ingest_rate_events_per_second 100.000" in text
    assert 'footfall_gateway_dead_letters_total{reason="not_json"} 2' in text
    assert 'footfall_gateway_dead_letters_total{reason="invalid"} 1' in text
    assert "footfall_gateway_lag_seconds 0.500" in text
    assert 'footfall_gateway_batch_seconds_bucket{le="0.05"} 1' in text
    assert 'footfall_gateway_batch_seconds_bucket{le="5"} 2' in text
    assert 'footfall_gateway_batch_seconds_bucket{le="+Inf"} 2' in text
    assert "footfall_gateway_batch_seconds_count 2" in text
    # Rate forgets batches older than the window.
    assert m.rate_per_s(now_s=200.0) == 0.0
