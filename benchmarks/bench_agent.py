"""The whole agent pipeline at 2,000 sightings/s for 5 simulated minutes with ~5,000 devices.

What runs: the synthetic store -> ``Pipeline`` (tracker, default positioning's Kalman
tracker) -> event serialisation -> the durable SQLite outbox (WAL, synchronous=FULL,
one commit per 0.1 s of stream time as the agent does) -> batch payloads built and
deleted as if acknowledged. No broker: the network is not the agent's CPU.

Figures (medians of ``--repeats`` runs):

* CPU share of one core = (process CPU of the whole run - process CPU of generating
  the same sightings alone, measured in the same process) / simulated seconds;
* CPU microseconds per observation (same numerator / sightings);
* peak RSS of the process (``ru_maxrss``, includes the generator and numpy);
* tracked devices at the end.

Run: ``python benchmarks/bench_agent.py`` (``--quick`` for a 60 s smoke run).
Targets on the project machine: <= 25 % of one core, <= 100 MB RSS.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from edge_agent.agent import Agent
from edge_agent.config import AgentSettings, ThresholdSettings
from edge_agent.outbox import Outbox
from edge_agent.payloads import events_payload, split_batch
from edge_agent.pipeline import Pipeline, make_tracker
from edge_agent.sources.synthetic import SyntheticStore

OBS_PER_S = 2000.0
DEVICES = 5000
STAY_S = 500.0


def store(duration_s: float, seed: int) -> SyntheticStore:
    # Little's law: present devices = arrivals/s x stay; sightings/s = devices x rate.
    return SyntheticStore(
        seed=seed,
        duration_s=duration_s,
        arrivals_per_s=DEVICES / STAY_S,
        mean_stay_s=STAY_S,
        sightings_per_device_s=OBS_PER_S / DEVICES,
        sensor_id="bench",
        initial_devices=DEVICES,
    )


def rss_mb() -> float:
    """Current resident set size (Linux /proc), to show memory stays flat over the run."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return float("nan")
    return pages * resource.getpagesize() / 2**20


def generate_only(duration_s: float, seed: int) -> tuple[float, int]:
    start = time.process_time()
    n = sum(1 for _ in store(duration_s, seed).sightings())
    return time.process_time() - start, n


def run_agent(duration_s: float, seed: int, tracker: str, workdir: Path) -> dict[str, Any]:
    settings = AgentSettings(
        store_id="bench",
        agent_id="bench",
        site_secret="bench-k2j3h4g5f6d7s8a9q0w1e2r3",  # noqa: S106 - synthetic keys only
        tracker=tracker,
        thresholds=ThresholdSettings(max_devices=20_000),
    )
    outbox = Outbox(workdir / f"outbox-{seed}-{tracker}.sqlite")
    pipeline = Pipeline(
        make_tracker(tracker, settings.zones, settings.thresholds, {"bench": "store"})
    )
    agent = Agent(settings, outbox=outbox, pipeline=pipeline, link=None, version="bench")
    next_flush = 0.0
    next_sample = 0.0
    rss_samples: list[float] = []
    peak_devices = 0
    sent = 0
    start = time.process_time()
    for sighting in store(duration_s, seed).sightings():
        agent.handle(sighting)
        if sighting.ts_s >= next_flush:
            next_flush = sighting.ts_s + 0.1
            agent.flush()
            while outbox.depth:
                batch = split_batch("bench", outbox.peek(500))
                sent += len(events_payload("bench", "bench", sighting.ts_s, batch))
                outbox.delete([i.seq for i in batch])
            peak_devices = max(peak_devices, pipeline.tracker.tracked_devices)
        if sighting.ts_s >= next_sample:
            next_sample = sighting.ts_s + 60.0
            rss_samples.append(rss_mb())
    agent.flush()
    rss_samples.append(rss_mb())
    cpu_s = time.process_time() - start
    outbox.close()
    return {
        "cpu_s": cpu_s,
        "sightings": float(pipeline.sightings),
        "events": float(pipeline.events),
        "peak_devices": float(peak_devices),
        "payload_bytes": float(sent),
        "rss_samples": rss_samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=300.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tracker", choices=["kalman", "proximity"], default="kalman")
    parser.add_argument("--quick", action="store_true", help="60 s of stream, one repeat")
    args = parser.parse_args()
    duration = 60.0 if args.quick else args.duration_s
    repeats = 1 if args.quick else args.repeats
    shares, per_obs, gens = [], [], []
    last: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            gen_cpu, n = generate_only(duration, seed=r + 1)
            gc.collect()
            last = run_agent(duration, r + 1, args.tracker, Path(tmp))
            pipeline_cpu = last["cpu_s"] - gen_cpu
            shares.append(pipeline_cpu / duration)
            per_obs.append(pipeline_cpu / n * 1e6)
            gens.append(gen_cpu)
            print(
                f"run {r + 1}: {n} sightings ({n / duration:.0f}/s), {last['events']:.0f} events, "
                f"peak {last['peak_devices']:.0f} devices, total CPU {last['cpu_s']:.2f} s, "
                f"generator {gen_cpu:.2f} s"
            )
            samples = ", ".join(f"{x:.0f}" for x in last["rss_samples"])
            print(f"       RSS every 60 s of stream (MB): {samples}")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    share = statistics.median(shares)
    print(f"tracker: {args.tracker}; simulated {duration:.0f} s per run, {repeats} run(s)")
    print(f"CPU share of one core (median): {share * 100:.1f} %  (target <= 25 %)")
    print(f"CPU per observation (median):   {statistics.median(per_obs):.1f} us")
    gen_share = statistics.median(gens) / duration * 100
    print(f"generator alone (baseline):      {gen_share:.1f} % of a core")
    print(f"peak RSS of the process:         {rss_mb:.1f} MB  (target <= 100 MB)")


if __name__ == "__main__":
    main()
