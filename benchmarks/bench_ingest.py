"""Sustained ingest rate into PostgreSQL vs a bare paho subscriber on the same stream.

Both drain the same stream of ``--events`` presence events (50 per message, 20
agents) from a private Mosquitto: the broker queues it in a persistent session
first, then the consumer connects and the clock runs until the last event is
received (bare) or committed (gateway: validation, COPY, acks, and the
store-visit merge running beside it, exactly as ``footfall gateway ingest``).
The bare subscriber receives at QoS 1 and ``json.loads`` every payload (and
counts its events from the parsed list): the least any consumer must do, so the
ratio is not a comparison with a subscriber that throws the bytes away.
Repeated ``--repeats`` times in one run; prints medians and the ratio.

Besides wall-clock rates (noisy on a shared machine) it prints CPU time per
event, which other jobs on the machine barely change: the benchmark process's
own (paho, validation, row building; ``process_time``) plus, for the gateway, its
housekeeping process's (the visit merge, forked on PostgreSQL), and that of the
gateway's PostgreSQL backends (from ``/proc``, when readable).

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
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Run:
    events_per_s: float
    python_cpu_us_per_event: float
    """CPU of this process (every thread) and of its child processes per event."""
    postgres_cpu_us_per_event: float | None = None
    """CPU of the gateway's PostgreSQL backends per event (None: /proc not readable)."""


def bare_rate(port: int, stream: Stream, run: int) -> Run:
    """A plain paho subscriber (QoS 1, auto-ack) that receives and json-parses every payload."""
    client_id = f"bench-bare-{run}"
    _paho_session(port, client_id).disconnect()  # the session now queues for us
    time.sleep(0.2)
    publish("127.0.0.1", port, stream.messages, client_id=f"bench-pub-b{run}")
    got = 0
    events = 0
    done = threading.Event()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        nonlocal got, events
        events += len(json.loads(msg.payload)["events"])
        got += 1
        if got == len(stream.messages):
            done.set()

    started = time.monotonic()
    cpu_started = time.process_time()
    client = _paho_session(port, client_id, on_message)
    if not done.wait(300):
        raise RuntimeError(f"bare subscriber got {got}/{len(stream.messages)} messages")
    elapsed = time.monotonic() - started
    cpu = time.process_time() - cpu_started
    client.disconnect()
    client.loop_stop()
    if events != len(stream.event_ids):
        raise RuntimeError(f"bare subscriber parsed {events} events, sent {len(stream.event_ids)}")
    return Run(events / elapsed, cpu / events * 1e6)


def _backend_cpu_s(url: str) -> float | None:
    """CPU seconds (user + system) of every backend on ``url``'s database but ours, from /proc."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        pids = [
            pid
            for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    total = 0.0
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:  # another host, or not allowed to read the server's processes
        return None
    return total


def _children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's live children (the gateway's housekeeping)."""
    import multiprocessing

    total = 0.0
    for child in multiprocessing.active_children():
        try:
            fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def gateway_rate(port: int, url: str, stream: Stream, run: int) -> Run:
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
        pg_started = _backend_cpu_s(url)
        started = time.monotonic()
        cpu_started = time.process_time() + _children_cpu_s()
        worker = threading.Thread(target=ingest.service.run, args=(stop,))
        worker.start()
        while ingest.service.metrics.events_stored < target:
            if time.monotonic() - started > 300:
                raise RuntimeError("gateway did not store the stream within 300 s")
            time.sleep(0.005)
        elapsed = time.monotonic() - started
        cpu = time.process_time() + _children_cpu_s() - cpu_started
        pg_ended = _backend_cpu_s(url)  # before stopping: the pool's backends are still there
        stop.set()
        worker.join()
        with ingest.engine.connect() as conn:
            stored = conn.execute(text("SELECT COUNT(*) FROM presence_events")).scalar_one()
        if stored != len(stream.event_ids):
            raise RuntimeError(f"stored {stored} events, expected {len(stream.event_ids)}")
        if os.environ.get("BENCH_DEBUG"):
            m = ingest.service.metrics
            print(f"  {elapsed:.2f} s, committing {m.latency_sum_s:.2f} s, {m.batches} batches")
        n = len(stream.event_ids)
        pg = None if pg_started is None or pg_ended is None else (pg_ended - pg_started) / n * 1e6
        return Run(n / elapsed, cpu / n * 1e6, pg)
    finally:
        ingest.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    stream = build_stream(events=args.events, malformed_fraction=0.0)
    bare: list[Run] = []
    gw: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp, temporary_database("footfall_bench") as url:
        upgrade(url)
        broker = Mosquitto(Path(tmp) / "mosquitto")
        broker.start()
        try:
            for run in range(args.repeats):
                bare.append(bare_rate(broker.port, stream, run))
                gw.append(gateway_rate(broker.port, url, stream, run))
                if not args.json:
                    b, g = bare[-1], gw[-1]
                    pg = (
                        "?"
                        if g.postgres_cpu_us_per_event is None
                        else (f"{g.postgres_cpu_us_per_event:.1f}")
                    )
                    print(
                        f"run {run}: bare {b.events_per_s:,.0f} events/s "
                        f"({b.python_cpu_us_per_event:.1f} us CPU/event), gateway "
                        f"{g.events_per_s:,.0f} events/s ({g.python_cpu_us_per_event:.1f} us "
                        f"Python + {pg} us PostgreSQL CPU/event)"
                    )
        finally:
            broker.stop()
    pg_runs = [g.postgres_cpu_us_per_event for g in gw if g.postgres_cpu_us_per_event is not None]
    bare_rate_median = statistics.median(b.events_per_s for b in bare)
    gw_rate_median = statistics.median(g.events_per_s for g in gw)
    result = {
        "events": len(stream.event_ids),
        "messages": len(stream.messages),
        "repeats": args.repeats,
        "bare_events_per_s": bare_rate_median,
        "gateway_events_per_s": gw_rate_median,
        "ratio": gw_rate_median / bare_rate_median,
        "bare_cpu_us_per_event": statistics.median(b.python_cpu_us_per_event for b in bare),
        "gateway_python_cpu_us_per_event": statistics.median(g.python_cpu_us_per_event for g in gw),
        "gateway_postgres_cpu_us_per_event": statistics.median(pg_runs) if pg_runs else None,
    }
    if args.json:
        print(json.dumps(result))
    else:
        pg = result["gateway_postgres_cpu_us_per_event"]
        print(
            f"median of {args.repeats}: bare paho (json-parsing) "
            f"{result['bare_events_per_s']:,.0f} events/s, "
            f"gateway into PostgreSQL {result['gateway_events_per_s']:,.0f} events/s, "
            f"ratio {result['ratio']:.2f} (target >= 0.5 and >= 10,000 events/s); CPU per event: "
            f"bare {result['bare_cpu_us_per_event']:.1f} us, gateway "
            f"{result['gateway_python_cpu_us_per_event']:.1f} us Python + "
            f"{'?' if pg is None else f'{pg:.1f}'} us PostgreSQL"
        )


if __name__ == "__main__":
    main()
