"""Sustained ingest rate into PostgreSQL vs a bare paho subscriber on the same stream.

Both drain the same stream of ``--events`` presence events (50 per message, 20
agents) from a private Mosquitto: the broker queues it in a persistent session
first, then the consumer connects and the clock runs until the last event is
received (bare) or committed (gateway: validation, COPY, acks, and the
store-visit merge running beside it, exactly as ``footfall gateway ingest``).
Repeated ``--repeats`` times in one run; prints medians and the ratio.

    python benchmarks/bench_ingest.py [--events 100000] [--repeats 3] [--json]

BENCH_DEBUG=1 also prints the time spent committing; BENCH_VISITS_EVERY_S sets how
often the visit merge runs beside ingest (default 1 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from gateway.bootstrap import build_ingest
from gateway.migrate import upgrade
from gateway.settings import GatewaySettings
from tests.integration.gateway_load import Stream, build_stream, publish
from tests.support.mosquitto import Mosquitto
from tests.support.postgres import temporary_database


def _paho_session(port: int, client_id: str, on_message: Any = None) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    if on_message is not None:
        client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 2000
    subscribed = threading.Event()
    client.on_subscribe = lambda *_a: subscribed.set()
    client.on_connect = lambda c, *_a: c.subscribe("footfall/v1/+/+/events", qos=1)
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    if not subscribed.wait(10):
        raise RuntimeError("bare subscriber did not subscribe")
    return client


def bare_rate(port: int, stream: Stream, run: int) -> float:
    """Events/s a plain paho subscriber (QoS 1, auto-ack, payload untouched) receives."""
    client_id = f"bench-bare-{run}"
    _paho_session(port, client_id).disconnect()  # the session now queues for us
    time.sleep(0.2)
    publish("127.0.0.1", port, stream.messages, client_id=f"bench-pub-b{run}")
    per_message = len(stream.event_ids) / len(stream.messages)
    got = 0
    done = threading.Event()

    def on_message(*_a: Any) -> None:
        nonlocal got
        got += 1
        if got == len(stream.messages):
            done.set()

    started = time.monotonic()
    client = _paho_session(port, client_id, on_message)
    if not done.wait(300):
        raise RuntimeError(f"bare subscriber got {got}/{len(stream.messages)} messages")
    elapsed = time.monotonic() - started
    client.disconnect()
    client.loop_stop()
    return got * per_message / elapsed


def gateway_rate(port: int, url: str, stream: Stream, run: int) -> float:
    """Events/s the gateway commits into PostgreSQL draining the same queued stream."""
    settings = GatewaySettings(
        database_url=url,
        mqtt_port=port,
        mqtt_client_id=f"bench-gw-{run}",
        visits_every_s=float(os.environ.get("BENCH_VISITS_EVERY_S", "1.0")),
    )
    ingest = build_ingest(settings)
    try:
        with ingest.engine.begin() as conn:
            conn.execute(text("TRUNCATE presence_events, visit_dirty, store_visits, agents"))
        stop = threading.Event()
        first = threading.Thread(
            target=ingest.service.run, args=(stop,), kwargs={"idle_exit_s": 0.5}
        )
        first.start()
        first.join()  # session created and subscribed, nothing to read yet
        publish("127.0.0.1", port, stream.messages, client_id=f"bench-pub-g{run}")
        target = ingest.service.metrics.events_stored + len(stream.event_ids)
        started = time.monotonic()
        worker = threading.Thread(target=ingest.service.run, args=(stop,))
        worker.start()
        while ingest.service.metrics.events_stored < target:
            if time.monotonic() - started > 300:
                raise RuntimeError("gateway did not store the stream within 300 s")
            time.sleep(0.005)
        elapsed = time.monotonic() - started
        stop.set()
        worker.join()
        with ingest.engine.connect() as conn:
            stored = conn.execute(text("SELECT COUNT(*) FROM presence_events")).scalar_one()
        if stored != len(stream.event_ids):
            raise RuntimeError(f"stored {stored} events, expected {len(stream.event_ids)}")
        if os.environ.get("BENCH_DEBUG"):
            m = ingest.service.metrics
            print(f"  {elapsed:.2f} s, committing {m.latency_sum_s:.2f} s, {m.batches} batches")
        return len(stream.event_ids) / elapsed
    finally:
        ingest.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    stream = build_stream(events=args.events, malformed_fraction=0.0)
    bare: list[float] = []
    gw: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, temporary_database("footfall_bench") as url:
        upgrade(url)
        broker = Mosquitto(Path(tmp) / "mosquitto")
        broker.start()
        try:
            for run in range(args.repeats):
                bare.append(bare_rate(broker.port, stream, run))
                gw.append(gateway_rate(broker.port, url, stream, run))
                if not args.json:
                    print(
                        f"run {run}: bare {bare[-1]:,.0f} events/s, gateway {gw[-1]:,.0f} events/s"
                    )
        finally:
            broker.stop()
    result = {
        "events": len(stream.event_ids),
        "messages": len(stream.messages),
        "repeats": args.repeats,
        "bare_events_per_s": statistics.median(bare),
        "gateway_events_per_s": statistics.median(gw),
        "ratio": statistics.median(gw) / statistics.median(bare),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"median of {args.repeats}: bare paho {result['bare_events_per_s']:,.0f} events/s, "
            f"gateway into PostgreSQL {result['gateway_events_per_s']:,.0f} events/s, "
            f"ratio {result['ratio']:.2f} (target >= 0.5 and >= 10,000 events/s)"
        )


if __name__ == "__main__":
    main()
