"""The technician's commands: ``scan``, ``calibrate``, ``zones`` and ``provision``.

A thin shell over ``edge_agent.technician`` (pure parts): it gathers sightings
from the radios, a replay or a simulation, calls the pure functions and draws
the results with rich. Only typer is imported at module level.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from edge_agent.config import AgentSettings
    from edge_agent.sources import Source
    from edge_agent.technician.calibrate import PathLossSummary
    from hardware.observations import Sighting

calibrate_app = typer.Typer(
    name="calibrate",
    help="Calibrate the radio model: power at 1 m, path-loss exponent, per-sensor offsets.",
    no_args_is_help=True,
)
zones_app = typer.Typer(
    name="zones",
    help="Zone fingerprints, walk tests and pushing zones to agents.",
    no_args_is_help=True,
)
provision_app = typer.Typer(
    name="provision",
    help="Provision agents: credentials, broker lines, config.",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Agent TOML (site secret, radios, infrastructure beacons). "
        "Optional with --simulate: a throw-away secret is used.",
    ),
]
BeaconOption = Annotated[
    str,
    typer.Option(
        "--beacon",
        help="The technician's beacon: its name in the config's infrastructure_beacons or its id "
        "(ibeacon:<uuid>:<major>:<minor>).",
    ),
]
SimulateOption = Annotated[
    bool, typer.Option("--simulate", help="Use the simulator instead of the radios.")
]
SeedOption = Annotated[int, typer.Option(help="Simulation seed.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]

# What --sort and --radio complete to (edge_agent.technician.scan.SORT_KEYS, kept here so
# completion does not import numpy).
SORT_CHOICES = ("rssi", "smoothed", "distance", "rate", "key", "sensor", "seen")
RADIO_CHOICES = ("ble", "wifi")

# The simulated sessions start at a fixed time, so reruns give the same output.
SIM_START_TS_S = 1_763_892_000.0  # 2025-11-23T10:00:00Z


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _settings(config: Path | None, *, need_config: bool) -> AgentSettings:
    import secrets

    from edge_agent.config import ConfigError, load_settings

    try:
        if config is not None:
            return load_settings(config)
        if need_config:
            raise _fail("--config is required without --simulate (the agent TOML of this radio)")
        return load_settings(
            None,
            store_id="technician",
            agent_id="technician",
            site_secret=secrets.token_urlsafe(32),
        )
    except ConfigError as exc:
        raise _fail(f"{config}: {str(exc).replace(chr(10), '; ')}") from None


def _beacon_key(settings: AgentSettings, beacon: str) -> tuple[AgentSettings, str]:
    """The device key the beacon's sightings will carry, and settings that name it in clear."""
    from hardware.privacy import normalize_beacon_id

    if not beacon.strip():
        raise _fail("--beacon must name a beacon (got '')")
    names = dict(settings.infrastructure_beacons)
    if beacon in names.values():
        return settings, beacon
    wanted = normalize_beacon_id(beacon)
    for beacon_id, name in names.items():
        if normalize_beacon_id(beacon_id) == wanted:
            return settings, name
    if beacon.startswith("dk1_"):
        raise _fail(
            "--beacon must be an infrastructure beacon's name or id, "
            f"not a device key (got {beacon!r})"
        )
    names[beacon] = beacon
    return settings.model_copy(update={"infrastructure_beacons": names}), beacon


def _progress() -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("s  {task.fields[readings]} readings"),
        TimeRemainingColumn(),
        transient=False,
    )


def _run_sources(
    sources: list[Source],
    emit: Callable[[Sighting], None],
    *,
    seconds: float | None,
    tick: Callable[[float], None],
    tick_s: float = 0.25,
) -> None:
    """Run ``sources`` until they end, ``seconds`` of wall time pass or SIGINT/SIGTERM."""
    import asyncio
    import contextlib
    import signal

    from edge_agent.sources import SourceError

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        tasks = [asyncio.create_task(src.run(emit)) for src in sources]
        start = loop.time()
        try:
            while not stop.is_set() and not all(t.done() for t in tasks):
                elapsed = loop.time() - start
                tick(elapsed)
                if seconds is not None and elapsed >= seconds:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), tick_s)
            tick(loop.time() - start)
        finally:
            for t in tasks:
                t.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, SourceError):
                raise result

    try:
        asyncio.run(main())
    except SourceError as exc:
        raise _fail(str(exc)) from None


def _radio_sources(settings: AgentSettings) -> list[Source]:
    from edge_agent.bootstrap import SourceChoice, build_sources
    from edge_agent.sources import SourceError

    try:
        return build_sources(settings, SourceChoice())
    except SourceError as exc:
        raise _fail(str(exc)) from None


# -- scan ---------------------------------------------------------------------------------------


_CLASS_LABEL = {
    "infrastructure_beacon": "infra",
    "personal_beacon": "beacon",
    "wifi_global": "wifi",
    "wifi_randomized": "wifi-rnd",
}


def _scan_table(rows: list[Any], title: str) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
    table.add_column("device key", no_wrap=True, min_width=20)
    table.add_column("sensor", no_wrap=True, max_width=11)
    table.add_column("class", no_wrap=True, min_width=8)
    for name in ("RSSI", "smooth", "dist m", "adv/s", "count"):
        table.add_column(name, justify="right", no_wrap=True, min_width=len(name))
    for r in rows:
        table.add_row(
            r.device_key,
            r.sensor_id,
            _CLASS_LABEL.get(r.id_class.value, r.id_class.value),
            "-" if r.rssi_dbm is None else f"{r.rssi_dbm:.0f}",
            "-" if r.smoothed_dbm is None else f"{r.smoothed_dbm:.1f}",
            "-" if r.distance_m is None else f"{r.distance_m:.1f}",
            f"{r.adverts_per_s:.1f}",
            str(r.count),
        )
    return table


def _row_json(r: Any) -> dict[str, Any]:
    return {
        "device_key": r.device_key,
        "sensor_id": r.sensor_id,
        "id_class": r.id_class.value,
        "signal": r.signal.value,
        "rssi_dbm": r.rssi_dbm,
        "smoothed_dbm": None if r.smoothed_dbm is None else round(r.smoothed_dbm, 2),
        "distance_m": None if r.distance_m is None else round(r.distance_m, 2),
        "adverts_per_s": round(r.adverts_per_s, 3),
        "count": r.count,
        "last_seen_s": r.last_seen_s,
    }


def scan(
    config: ConfigOption = None,
    replay: Annotated[
        Path | None, typer.Option("--replay", help="Replay a capture (sightings JSONL, pcap, run).")
    ] = None,
    simulate: SimulateOption = False,
    speed: Annotated[
        float, typer.Option(help="Replay/simulation: stream seconds per wall second; 0 = at once.")
    ] = 1.0,
    seed: SeedOption = 1,
    sort: Annotated[
        str,
        typer.Option(
            help="Sort by rssi, smoothed, distance, rate, key, sensor or seen.",
            autocompletion=lambda: list(SORT_CHOICES),
        ),
    ] = "smoothed",
    contains: Annotated[
        str, typer.Option("--filter", help="Only rows whose device key or sensor contain this.")
    ] = "",
    radio: Annotated[
        str,
        typer.Option(
            help="Only 'ble' or 'wifi' (default both).", autocompletion=lambda: list(RADIO_CHOICES)
        ),
    ] = "",
    min_rssi_dbm: Annotated[
        float | None, typer.Option("--min-rssi", help="Only rows at least this loud (dBm).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows shown.")] = 25,
    seconds: Annotated[
        float | None, typer.Option(help="Stop after this many wall seconds (default: Ctrl-C).")
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(
            help="Calibration JSON for BLE distances (footfall calibrate); "
            "without it a beacon's announced power is used."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Live table of what the radios hear: device keys, raw and smoothed RSSI, distance, rate."""
    import time

    from edge_agent.bootstrap import SourceChoice, build_sources
    from edge_agent.sources import SourceError
    from edge_agent.technician.calibrate import CalibrationFileError, load_calibration
    from edge_agent.technician.scan import SORT_KEYS, ScanTable
    from hardware.observations import SignalKind

    if replay is not None and simulate:
        raise _fail("--replay and --simulate exclude each other (got both); pick one")
    if sort not in SORT_KEYS:
        raise _fail(f"--sort must be one of {', '.join(SORT_KEYS)} (got {sort!r})")
    if radio not in ("", "ble", "wifi"):
        raise _fail(f"--radio must be 'ble' or 'wifi' (got {radio!r})")
    if speed < 0:
        raise _fail(f"--speed must be >= 0 (got {speed})")
    settings = _settings(config, need_config=replay is None and not simulate)
    table_kwargs: dict[str, Any] = {}
    if calibration is not None:
        try:
            cal = load_calibration(calibration)
            table_kwargs["ble_model"] = cal.model
            table_kwargs["sensor_offsets_db"] = cal.sensor_offsets_db
            table_kwargs["use_announced_power"] = False
        except CalibrationFileError as exc:
            raise _fail(str(exc)) from None
    table = ScanTable(**table_kwargs)
    choice = SourceChoice(
        replay=replay, simulate=simulate, speed=None if speed == 0 else speed, seed=seed
    )
    try:
        sources = build_sources(settings, choice)
    except SourceError as exc:
        raise _fail(str(exc)) from None
    live_clock = any(s.live_clock for s in sources)
    signal = None if not radio else SignalKind(radio)

    def now_s() -> float:
        return time.time() if live_clock or not math.isfinite(table.latest_s) else table.latest_s

    def current() -> list[Any]:
        return table.rows(
            now_s(),
            sort=sort,
            contains=contains,
            signal=signal,
            min_rssi_dbm=min_rssi_dbm,
            limit=limit,
        )

    def title() -> str:
        where = "replay" if replay else "simulation" if simulate else "radios"
        return f"footfall scan ({where}) - {table.sightings} sightings, sorted by {sort}" + (
            f", filter {contains!r}" if contains else ""
        )

    if as_json:
        _run_sources(sources, table.add, seconds=seconds, tick=lambda _: None)
        typer.echo(
            json.dumps({"sightings": table.sightings, "rows": [_row_json(r) for r in current()]})
        )
        return

    from rich.console import Console
    from rich.live import Live

    console = Console()
    with Live(_scan_table([], title()), console=console, refresh_per_second=4) as live:

        def tick(_: float) -> None:
            live.update(_scan_table(current(), title()))

        _run_sources(sources, table.add, seconds=seconds, tick=tick, tick_s=0.5)


# -- calibrate ----------------------------------------------------------------------------------


SimP1m = Annotated[float, typer.Option("--sim-p1m", help="Simulation truth: power at 1 m, dBm.")]
SimN = Annotated[float, typer.Option("--sim-n", help="Simulation truth: path-loss exponent.")]
SimSigma = Annotated[
    float, typer.Option("--sim-sigma", help="Simulation truth: shadowing sigma, dB.")
]
OutOption = Annotated[
    Path, typer.Option("--out", "-o", help="Calibration JSON to create or update.")
]


def _record(
    settings: AgentSettings,
    key: str,
    *,
    seconds: float,
    description: str,
    sim_sightings: Iterator[Sighting] | None,
    quiet: bool,
) -> list[Sighting]:
    """The beacon's sightings over ``seconds`` (simulated: at once), with a progress bar."""
    got: list[Sighting] = []
    progress = _progress()
    with progress:
        task = progress.add_task(description, total=seconds, readings=0, visible=not quiet)
        if sim_sightings is not None:
            first: float | None = None
            for s in sim_sightings:
                first = s.ts_s if first is None else first
                if s.device_key == key:
                    got.append(s)
                progress.update(task, completed=min(s.ts_s - first, seconds), readings=len(got))
            progress.update(task, completed=seconds, readings=len(got))
            return got

        def emit(s: Sighting) -> None:
            if s.device_key == key:
                got.append(s)

        def tick(elapsed: float) -> None:
            progress.update(task, completed=min(elapsed, seconds), readings=len(got))

        _run_sources(_radio_sources(settings), emit, seconds=seconds, tick=tick)
    return got


def _pick_sensor(got: list[Sighting], sensor: str | None, beacon: str) -> tuple[str, list[float]]:
    by_sensor: dict[str, list[float]] = {}
    for s in got:
        if s.rssi_dbm is not None:
            by_sensor.setdefault(s.sensor_id, []).append(s.rssi_dbm)
    if sensor is not None:
        if sensor not in by_sensor:
            heard = ", ".join(sorted(by_sensor)) or "none"
            raise _fail(
                f"sensor {sensor!r} did not hear beacon {beacon!r} (sensors that did: {heard}); "
                "check --sensor and that the beacon is switched on"
            )
        return sensor, by_sensor[sensor]
    if not by_sensor:
        raise _fail(
            f"no reading of beacon {beacon!r}: check it is on, within range, and that --beacon "
            "names it (footfall scan shows what is heard)"
        )
    best = max(sorted(by_sensor), key=lambda k: len(by_sensor[k]))
    return best, by_sensor[best]


def _now_text() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@calibrate_app.command("power")
def calibrate_power(
    beacon: BeaconOption,
    distance_m: Annotated[
        float, typer.Option("--distance", help="Tape-measured beacon-sensor distance, metres.")
    ] = 1.0,
    seconds: Annotated[float, typer.Option(help="How long to record.")] = 30.0,
    sensor: Annotated[
        str | None, typer.Option(help="The sensor next to the beacon (default: the loudest).")
    ] = None,
    n: Annotated[
        float | None,
        typer.Option(
            "--n", help="Exponent to bring a distance other than 1 m back to 1 m (file's or 2.0)."
        ),
    ] = None,
    as_site: Annotated[
        bool, typer.Option("--as-site", help="Make this the site's power (not a sensor offset).")
    ] = False,
    out: OutOption = Path("calibration.json"),
    config: ConfigOption = None,
    simulate: SimulateOption = False,
    sim_p1m: SimP1m = -59.0,
    sim_n: SimN = 2.2,
    sim_sigma: SimSigma = 2.0,
    seed: SeedOption = 1,
    as_json: JsonOption = False,
) -> None:
    """Measure the beacon's power at 1 m: median, spread, outlier share; write the calibration.

    The first measurement sets the site's power; later ones (other sensors) set that
    sensor's offset, unless --as-site.
    """
    from edge_agent.technician.calibrate import (
        record_power,
        summarize_power,
        write_calibration,
    )

    if not distance_m > 0 or not seconds > 0:
        raise _fail(f"--distance and --seconds must be > 0 (got {distance_m}, {seconds})")
    doc, settings, key, sim = _calibration_setup(
        out, config, beacon, simulate, (sim_p1m, sim_n, sim_sigma), seed, sensor
    )
    got = _record(
        settings,
        key,
        seconds=seconds,
        description=f"recording {beacon} at {distance_m:g} m",
        sim_sightings=None if sim is None else sim(distance_m, seconds),
        quiet=as_json,
    )
    sensor_id, values = _pick_sensor(got, sensor, beacon)
    summary = summarize_power(values, distance_m, n if n is not None else doc.get("n", 2.0))
    offset = record_power(
        doc, summary, beacon=beacon, sensor_id=sensor_id, at=_now_text(), as_site=as_site
    )
    write_calibration(out, doc)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "beacon": beacon,
                    "sensor_id": sensor_id,
                    "count": summary.count,
                    "distance_m": distance_m,
                    "median_dbm": summary.median_dbm,
                    "spread_db": round(summary.spread_db, 3),
                    "iqr_db": summary.iqr_db,
                    "outlier_share": round(summary.outlier_share, 4),
                    "p1m_dbm": round(summary.p1m_dbm, 3),
                    "site_p1m_dbm": doc["p1m_dbm"],
                    "sensor_offset_db": offset,
                    "calibration": str(out),
                }
            )
        )
        return
    typer.echo(f"sensor {sensor_id}: {summary.count} readings at {distance_m:g} m")
    typer.echo(
        f"  median {summary.median_dbm:.1f} dBm, spread {summary.spread_db:.1f} dB "
        f"(IQR {summary.iqr_db:.1f} dB), outliers {summary.outlier_share:.1%}"
    )
    typer.echo(f"  power at 1 m: {summary.p1m_dbm:.1f} dBm (n = {summary.n_assumed:g})")
    if summary.outlier_share > 0.2:
        typer.echo("  warning: over 20% outliers - keep people out of the path and record again")
    typer.echo(
        f"wrote {out}: site P1m {doc['p1m_dbm']:.1f} dBm, offset of {sensor_id} {offset:+.1f} dB"
    )


def _calibration_setup(
    out: Path,
    config: Path | None,
    beacon: str,
    simulate: bool,
    sim_model: tuple[float, float, float],
    seed: int,
    sensor: str | None,
) -> tuple[Any, AgentSettings, str, Callable[[float, float], Iterator[Sighting]] | None]:
    """What both calibrate commands start from: the calibration file so far, the agent's
    settings, the beacon's key, and (``--simulate``) the simulated calibration beacon."""
    from edge_agent.technician.calibrate import CalibrationFileError, read_calibration

    try:
        doc = read_calibration(out)
    except CalibrationFileError as exc:
        raise _fail(f"{exc}; pass another --out or fix the file") from None
    settings = _settings(config, need_config=not simulate)
    settings, key = _beacon_key(settings, beacon)
    sim = _calibration_sim(settings, key, *sim_model, seed, sensor) if simulate else None
    return doc, settings, key, sim


def _calibration_sim(
    settings: AgentSettings,
    key: str,
    p1m_dbm: float,
    n: float,
    sigma_db: float,
    seed: int,
    sensor: str | None,
) -> Callable[[float, float], Iterator[Sighting]]:
    from edge_agent.technician.calsim import CALIBRATION_BEACON_ID, CalibrationBeaconSim
    from hardware.privacy import DeviceKeyer

    try:
        sim = CalibrationBeaconSim(
            p1m_dbm=p1m_dbm,
            n=n,
            sigma_db=sigma_db,
            seed=seed,
            sensor_id=sensor or settings.agent_id,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    keyer = DeviceKeyer(
        settings.site_secret.get_secret_value().encode(), {CALIBRATION_BEACON_ID: key}
    )
    offset = [0.0]

    def run(distance_m: float, seconds: float) -> Iterator[Sighting]:
        start = SIM_START_TS_S + offset[0]
        offset[0] += seconds + 5.0
        return sim.sightings(keyer, distance_m, seconds, start)

    return run


def _parse_distances(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise _fail(
            f"--distances must be metres separated by commas, e.g. 1,2,4,8 (got {text!r})"
        ) from None
    if any(not (v > 0 and math.isfinite(v)) for v in values):
        raise _fail(f"--distances must all be > 0 metres (got {text!r})")
    return values


def _plot_path_loss(
    path: Path, summary: PathLossSummary, readings: dict[float, list[float]], beacon: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fit = summary.fit
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    rng = np.random.default_rng(0)  # jitter only spreads the dots for the eye
    for d, values in sorted(readings.items()):
        xs = d * (1 + rng.uniform(-0.03, 0.03, len(values)))
        ax.scatter(xs, values, s=6, alpha=0.25, color="tab:blue")
    ax.scatter(
        [s.distance_m for s in summary.steps],
        [s.median_dbm for s in summary.steps],
        color="tab:orange",
        zorder=3,
        label="median per distance",
    )
    d_line = np.geomspace(min(readings) * 0.8, max(readings) * 1.25, 100)
    ax.plot(
        d_line,
        fit.p1m_dbm - 10 * fit.n * np.log10(d_line),
        color="black",
        label=f"fit: P1m {fit.p1m_dbm:.1f} dBm, n {fit.n:.2f}",
    )
    ax.set_xscale("log")
    ax.set_xlabel("distance (m)")
    ax.set_ylabel("RSSI (dBm)")
    ax.set_title(f"path loss of {beacon} (sigma {fit.sigma_db:.1f} dB, R² {fit.r2:.2f})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


@calibrate_app.command("path-loss")
def calibrate_path_loss(
    beacon: BeaconOption,
    distances: Annotated[
        str | None,
        typer.Option(
            help="Distances in metres, e.g. 1,2,4,8 (default: asked one by one at a terminal)."
        ),
    ] = None,
    seconds: Annotated[float, typer.Option(help="Recording time per distance.")] = 20.0,
    sensor: Annotated[
        str | None, typer.Option(help="The sensor measured from (default: the loudest).")
    ] = None,
    out: OutOption = Path("calibration.json"),
    plot: Annotated[
        Path | None, typer.Option(help="PNG plot (default: path-loss.png beside --out).")
    ] = None,
    config: ConfigOption = None,
    simulate: SimulateOption = False,
    sim_p1m: SimP1m = -59.0,
    sim_n: SimN = 2.2,
    sim_sigma: SimSigma = 2.0,
    seed: SeedOption = 1,
    as_json: JsonOption = False,
) -> None:
    """Fit the power at 1 m and the path-loss exponent from several tape-measured distances."""
    from edge_agent.technician.calibrate import (
        record_path_loss,
        sparkline,
        summarize_path_loss,
        write_calibration,
    )

    interactive = sys.stdin.isatty() and not as_json
    if distances is not None:
        planned: list[float] | None = _parse_distances(distances)
    elif interactive:
        planned = None
    else:
        raise _fail("stdin is not a terminal: pass the distances, e.g. --distances 1,2,4,8")
    if planned is not None and len(set(planned)) < 2:
        raise _fail(f"--distances needs at least 2 different distances (got {distances!r})")
    if not seconds > 0:
        raise _fail(f"--seconds must be > 0 (got {seconds})")
    doc, settings, key, sim = _calibration_setup(
        out, config, beacon, simulate, (sim_p1m, sim_n, sim_sigma), seed, sensor
    )

    readings: dict[float, list[float]] = {}
    chosen_sensor = sensor

    def next_distance(i: int) -> float | None:
        if planned is not None:
            return planned[i] if i < len(planned) else None
        while True:
            answer = typer.prompt(
                f"distance #{i + 1} in metres (empty to finish)", default="", show_default=False
            ).strip()
            if not answer:
                if len(readings) >= 2:
                    return None
                typer.echo("  at least 2 distances are needed")
                continue
            try:
                value = float(answer)
            except ValueError:
                typer.echo(f"  expected metres, e.g. 2.5 (got {answer!r})")
                continue
            if value > 0:
                return value
            typer.echo(f"  the distance must be > 0 m (got {value})")

    i = 0
    while (d := next_distance(i)) is not None:
        if interactive and planned is not None:
            typer.prompt(
                f"place {beacon} at {d:g} m from the sensor, then press Enter",
                default="",
                show_default=False,
            )
        got = _record(
            settings,
            key,
            seconds=seconds,
            description=f"{d:g} m",
            sim_sightings=None if sim is None else sim(d, seconds),
            quiet=as_json,
        )
        chosen_sensor, values = _pick_sensor(got, chosen_sensor, beacon)
        readings.setdefault(d, []).extend(values)
        i += 1
    try:
        summary = summarize_path_loss(readings)
        model = summary.fit.model
    except ValueError as exc:
        raise _fail(f"the fit failed: {exc}; record more distances, further apart") from None
    record_path_loss(doc, summary, beacon=beacon, sensor_id=chosen_sensor or "-", at=_now_text())
    write_calibration(out, doc)
    target = plot if plot is not None else out.with_name("path-loss.png")
    plot_path: Path | None = target
    try:
        _plot_path_loss(target, summary, readings, beacon)
    except ImportError:
        typer.echo(
            "note: matplotlib is not installed, no PNG plot (pip install matplotlib)", err=True
        )
        plot_path = None
    fit = summary.fit
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "beacon": beacon,
                    "sensor_id": chosen_sensor,
                    "p1m_dbm": round(fit.p1m_dbm, 3),
                    "n": round(fit.n, 4),
                    "sigma_db": round(fit.sigma_db, 3),
                    "rmse_db": round(fit.rmse_db, 3),
                    "r2": round(fit.r2, 4),
                    "quality": summary.quality,
                    "downweighted_share": round(summary.downweighted_share, 4),
                    "steps": [
                        {
                            "distance_m": s.distance_m,
                            "count": s.count,
                            "median_dbm": s.median_dbm,
                            "fitted_dbm": round(s.fitted_dbm, 2),
                            "residual_db": round(s.residual_db, 3),
                        }
                        for s in summary.steps
                    ],
                    "calibration": str(out),
                    "plot": None if plot_path is None else str(plot_path),
                }
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"path loss of {beacon} seen by {chosen_sensor}")
    for name in ("distance m", "readings", "median dBm", "fitted dBm", "residual dB"):
        table.add_column(name, justify="right")
    for s in summary.steps:
        table.add_row(
            f"{s.distance_m:g}",
            str(s.count),
            f"{s.median_dbm:.1f}",
            f"{s.fitted_dbm:.1f}",
            f"{s.residual_db:+.1f}",
        )
    console = Console()
    console.print(table)
    typer.echo(
        f"P1m {fit.p1m_dbm:.1f} dBm, n {fit.n:.2f}, sigma {fit.sigma_db:.1f} dB, "
        f"RMSE {fit.rmse_db:.1f} dB, R² {fit.r2:.2f}, "
        f"{summary.downweighted_share:.0%} readings down-weighted: {summary.quality}"
    )
    typer.echo(f"median RSSI by distance  {sparkline([s.median_dbm for s in summary.steps])}")
    typer.echo(f"residual by distance     {sparkline([s.residual_db for s in summary.steps])}")
    also = "" if plot_path is None else f" and {plot_path}"
    typer.echo(f"wrote {out} (P1m {model.p1m_dbm:.1f} dBm, n {model.n:.2f}){also}")
    if summary.quality == "poor":
        typer.echo(
            "warning: a distance is over 4 dB off the line - re-measure it (tape, line of sight)"
        )


# -- zones --------------------------------------------------------------------------------------


def _spot_option(text: str) -> tuple[float, float]:
    """``--at X,Y`` as two finite numbers (metres)."""
    parts = text.split(",")
    try:
        x, y = (float(p) for p in parts) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        x, y = math.nan, math.nan
    if not (math.isfinite(x) and math.isfinite(y)):
        raise _fail(f"--at must be X,Y in metres, e.g. --at 2.5,11.5 (got {text!r})")
    return x, y


@zones_app.command("record")
def zones_record(
    zone: Annotated[str, typer.Argument(help="The zone you are standing in.")],
    beacon: BeaconOption,
    seconds: Annotated[
        float, typer.Option(help="How long to record (walk around the zone).")
    ] = 60.0,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Fingerprint file (JSON Lines), appended to.")
    ] = Path("fingerprints.jsonl"),
    window_s: Annotated[
        float, typer.Option("--window-s", help="One fingerprint per window.")
    ] = 1.0,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="X,Y: the marked reference point (floor-plan metres) the beacon stands on; "
            "a survey with a spot on every row is tracked by position (grid filter).",
        ),
    ] = None,
    config: ConfigOption = None,
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Stand in ZONE of the simulator's store.")
    ] = False,
    replay: Annotated[
        Path | None,
        typer.Option(
            "--replay",
            help="Take the beacon's readings from a recording (agent run --record; several "
            "agents' files concatenated) instead of the radios; --seconds is then ignored.",
        ),
    ] = None,
    seed: SeedOption = 1,
    as_json: JsonOption = False,
) -> None:
    """Record fingerprints of ZONE (mean RSSI per sensor and window), at spot --at X,Y."""
    from edge_agent.technician.zones import append_fingerprints, fingerprint_rows

    if not seconds > 0 or not window_s > 0:
        raise _fail(f"--seconds and --window-s must be > 0 (got {seconds}, {window_s})")
    if simulate and at is not None:
        raise _fail(
            "--at and --simulate exclude each other (the simulated technician walks the whole "
            "zone; 'footfall simulate' writes a survey.jsonl with spots)"
        )
    spot = None if at is None else _spot_option(at)
    if simulate and replay is not None:
        raise _fail("--replay and --simulate exclude each other (got both); pick one")
    settings = _settings(config, need_config=not simulate and replay is None)
    settings, key = _beacon_key(settings, beacon)
    if replay is not None:
        got = [s for s in _replay_sightings(replay, settings) if s.device_key == key]
    else:
        sim_sightings = None
        if simulate:
            sim_sightings = _walk_sim(
                settings, key, seed, [(zone, seconds)], SIM_START_TS_S + 3600 * seed
            )
        got = _record(
            settings,
            key,
            seconds=seconds,
            description=f"recording zone {zone}",
            sim_sightings=sim_sightings,
            quiet=as_json,
        )
    rows = fingerprint_rows(got, device_key=key, zone=zone, window_s=window_s, at=spot)
    if not rows:
        raise _fail(
            f"no reading of beacon {beacon!r}"
            + ("" if replay is not None else f" in {seconds:g} s")
            + ": check it is on and named by --beacon"
        )
    append_fingerprints(out, rows)
    sensors = sorted({s for r in rows for s in r["rssi_dbm"]})
    if as_json:
        typer.echo(
            json.dumps(
                {"zone": zone, "fingerprints": len(rows), "sensors": sensors, "file": str(out)}
            )
        )
        return
    typer.echo(
        f"zone {zone}: {len(rows)} fingerprints, heard by {len(sensors)} sensors "
        f"({', '.join(sensors)})"
    )
    typer.echo(f"appended to {out}")


def _walk_sim(
    settings: AgentSettings,
    key: str,
    seed: int,
    legs: list[tuple[str, float]],
    start_ts_s: float,
) -> Iterator[Sighting]:
    from edge_agent.technician.calsim import CALIBRATION_BEACON_ID, WalkLeg, WalkSim
    from hardware.privacy import DeviceKeyer

    keyer = DeviceKeyer(
        settings.site_secret.get_secret_value().encode(), {CALIBRATION_BEACON_ID: key}
    )
    sim = WalkSim(seed=seed)
    try:
        sim.track([WalkLeg(z, s) for z, s in legs], start_ts_s)  # validates zone names
    except ValueError as exc:
        raise _fail(str(exc)) from None
    return sim.sightings(keyer, [WalkLeg(z, s) for z, s in legs], start_ts_s)


def _replay_sightings(path: Path, settings: AgentSettings) -> list[Sighting]:
    from edge_agent.sources import SourceError
    from edge_agent.sources.replay import ReplaySource

    try:
        source = ReplaySource(
            path,
            speed=None,
            site_secret=settings.site_secret.get_secret_value(),
            sensor_id=settings.agent_id,
        )
    except SourceError as exc:
        raise _fail(str(exc)) from None
    got: list[Sighting] = []
    _run_sources([source], got.append, seconds=None, tick=lambda _: None)
    return got


@zones_app.command("validate")
def zones_validate(
    walk: Annotated[Path, typer.Option("--walk", help="The walk: CSV 't,zone' ending with 'end'.")],
    beacon: BeaconOption,
    fingerprints: Annotated[
        Path | None,
        typer.Option(help="Fingerprint file: classify with kNN (default: loudest sensor's zone)."),
    ] = None,
    replay: Annotated[
        Path | None, typer.Option("--replay", help="Sightings recorded during the walk (JSONL).")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="When the walk began (RFC 3339) if its times are seconds; "
            "default: the first reading."
        ),
    ] = None,
    step_s: Annotated[float, typer.Option("--step-s", help="Compare once per this.")] = 1.0,
    window_s: Annotated[
        float, typer.Option("--window-s", help="Average the RSSI over this window.")
    ] = 3.0,
    k: Annotated[int, typer.Option("--k", help="Neighbours for the kNN classifier.")] = 5,
    config: ConfigOption = None,
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Walk the route in the simulator's store.")
    ] = False,
    seed: SeedOption = 1,
    as_json: JsonOption = False,
) -> None:
    """Walk test: your timed route vs the zones the system saw; confusion matrix and latency."""
    from datetime import datetime

    from edge_agent.technician.walk import WalkError, observed_zones, parse_walk, score_walk
    from edge_agent.technician.zones import FingerprintError, build_classifier, load_fingerprints
    from positioning.zones import StrongestSensorClassifier, ZoneClassifier

    if (replay is None) == (not simulate):
        raise _fail("give the walk's sightings with --replay FILE, or use --simulate (one of them)")
    if not walk.is_file():
        raise _fail(f"--walk: no such file {str(walk)!r} (CSV with header 't,zone')")
    settings = _settings(config, need_config=not simulate)
    settings, key = _beacon_key(settings, beacon)
    text = walk.read_text(encoding="utf-8")
    start_ts_s: float | None = None
    if start is not None:
        try:
            start_ts_s = datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise _fail(
                f"--start must be an RFC 3339 time, e.g. 2026-11-23T10:00:00Z (got {start!r})"
            ) from None
    try:
        segments = parse_walk(text, start_ts_s=start_ts_s or 0.0)
        if simulate:
            sim_start = start_ts_s or SIM_START_TS_S
            segments = parse_walk(text, start_ts_s=sim_start)
            got = list(
                _walk_sim(
                    settings,
                    key,
                    seed,
                    [(s.zone, s.seconds) for s in segments],
                    segments[0].start_s,
                )
            )
        elif replay is not None:
            got = _replay_sightings(replay, settings)
            mine = [s.ts_s for s in got if s.device_key == key]
            if not mine:
                raise _fail(f"{replay}: no reading of beacon {beacon!r}; check --beacon")
            if start_ts_s is None and segments[0].start_s < 1e9:  # relative times
                segments = parse_walk(text, start_ts_s=min(mine))
        else:
            raise _fail("give the walk's sightings with --replay FILE, or use --simulate")
    except WalkError as exc:
        raise _fail(f"{walk}: {exc}") from None
    classifier: ZoneClassifier
    if fingerprints is not None:
        try:
            classifier = build_classifier(load_fingerprints(fingerprints), k=k)
        except (FingerprintError, ValueError) as exc:
            raise _fail(str(exc)) from None
        method = f"kNN (k={k}) on {fingerprints}"
    else:
        if settings.sensor_zones:
            mapping = dict(settings.sensor_zones)
        elif simulate:
            from hardware.simulator import default_store

            mapping = default_store().sensor_zones()
        else:
            mapping = settings.effective_sensor_zones
        classifier = StrongestSensorClassifier(mapping)
        method = "loudest sensor's zone (sensor_zones)"
    observed = observed_zones(
        got,
        classifier,
        device_key=key,
        start_s=segments[0].start_s,
        end_s=segments[-1].end_s,
        step_s=step_s,
        window_s=window_s,
    )
    report = score_walk(segments, observed)
    if as_json:
        typer.echo(json.dumps({"method": method, **report.to_json()}))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"walk test ({method}): rows = where you were, columns = what it said")
    table.add_column("zone")
    for c in report.columns:
        table.add_column(c, justify="right")
    table.add_column("accuracy", justify="right")
    for z, row in zip(report.zones, report.confusion, strict=True):
        table.add_row(z, *[str(v) for v in row], f"{report.zone_accuracy[z]:.0%}")
    console.print(table)
    typer.echo(
        f"overall accuracy {report.accuracy:.1%} over {sum(map(sum, report.confusion))} "
        f"comparisons (one every {step_s:g} s)"
    )
    for (a, b), lat in zip(report.transitions, report.latencies_s, strict=True):
        typer.echo(f"  {a} -> {b}: " + ("missed" if lat is None else f"{lat:.0f} s"))
    med = report.median_latency_s
    typer.echo(
        "latency: "
        + ("n/a" if med is None else f"median {med:.0f} s, max {report.max_latency_s:.0f} s")
        + f", {report.missed} of {len(report.latencies_s)} zone changes missed"
    )


@zones_app.command("push")
def zones_push(
    config: Annotated[
        Path,
        typer.Option(
            "--config", "-c", help="Agent TOML: store, broker (mqtt), zones and thresholds."
        ),
    ],
    agents: Annotated[
        list[str] | None,
        typer.Option("--agent", help="Agent id to push to (repeat; default: the config's agent)."),
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="Config version the agents echo (default: content hash).")
    ] = None,
    calibration: Annotated[
        Path | None, typer.Option(help="Calibration JSON to send along (footfall calibrate).")
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Broker host (default: mqtt.host of the config).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Broker port (default: mqtt.port of the config).")
    ] = None,
    timeout_s: Annotated[
        float, typer.Option("--timeout-s", help="Wait this long for the broker.")
    ] = 10.0,
    as_json: JsonOption = False,
) -> None:
    """Publish the zones (retained, QoS 1) on each agent's config topic."""
    import hashlib

    from pydantic import ValidationError

    from edge_agent.provisioning import validate_id
    from edge_agent.technician.calibrate import CalibrationFileError, read_calibration
    from edge_agent.technician.zones import config_payload

    settings = _settings(config, need_config=True)
    targets = agents or [settings.agent_id]
    try:
        for a in targets:
            validate_id("agent_id", a)
    except ValueError as exc:
        raise _fail(f"--agent: {exc}") from None
    cal_doc = None
    if calibration is not None:
        if not calibration.is_file():
            raise _fail(
                f"--calibration: no such file {str(calibration)!r} (run footfall calibrate)"
            )
        try:
            cal_doc = read_calibration(calibration)
        except CalibrationFileError as exc:
            raise _fail(str(exc)) from None
    try:
        draft = config_payload("draft", settings.zones, settings.thresholds, cal_doc)
        if version is None:
            version = "tech-" + hashlib.sha256(draft).hexdigest()[:12]
        payload = config_payload(version, settings.zones, settings.thresholds, cal_doc)
    except ValidationError as exc:
        raise _fail(f"the config does not validate: {exc.errors()[0]['msg']}") from None
    topics = [f"footfall/v1/{settings.store_id}/{a}/config" for a in targets]
    _publish_retained(settings, topics, payload, host=host, port=port, timeout_s=timeout_s)
    if as_json:
        typer.echo(json.dumps({"version": version, "topics": topics, "bytes": len(payload)}))
        return
    zones = ", ".join(f"{z.name}>={z.min_rssi_dbm:g}dBm" for z in settings.zones)
    typer.echo(f"pushed config {version} ({zones}) to {len(topics)} agent(s):")
    for t in topics:
        typer.echo(f"  {t}")
    typer.echo("agents report it on their status topic once applied (config.state = applied)")


def _publish_retained(
    settings: AgentSettings,
    topics: Iterable[str],
    payload: bytes,
    *,
    host: str | None,
    port: int | None,
    timeout_s: float,
) -> None:
    import ssl
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    m = settings.mqtt
    broker = f"{host or m.host}:{port or m.port}"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"footfall-tech-{settings.store_id}",
        protocol=mqtt.MQTTv311,
    )
    if m.username:
        client.username_pw_set(m.username, m.password.get_secret_value() if m.password else None)
    if m.tls:
        client.tls_set(ca_certs=str(m.ca) if m.ca else None, cert_reqs=ssl.CERT_REQUIRED)
    connected = threading.Event()
    refused: list[str] = []

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            refused.append(str(reason))
        connected.set()

    client.on_connect = on_connect
    try:
        client.connect(host or m.host, port or m.port, keepalive=30)
    except OSError as exc:
        raise _fail(
            f"cannot reach the broker at {broker} ({exc}); check [mqtt] host/port or --host/--port"
        ) from None
    client.loop_start()
    try:
        if not connected.wait(timeout_s):
            raise _fail(f"no answer from the broker at {broker} in {timeout_s:g} s; is it up?")
        if refused:
            raise _fail(
                f"the broker at {broker} refused us ({refused[0]}); check [mqtt] username and "
                "FOOTFALL_AGENT_MQTT__PASSWORD (a gateway account may write config topics)"
            )
        infos = [client.publish(t, payload, qos=1, retain=True) for t in topics]
        for t, info in zip(topics, infos, strict=True):
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError) as exc:
                raise _fail(f"publishing to {t} failed ({exc}); check the broker's ACL") from None
            if not info.is_published():
                raise _fail(f"no PUBACK for {t} in {timeout_s:g} s; check the broker's ACL")
    finally:
        client.disconnect()
        client.loop_stop()


# -- provision ----------------------------------------------------------------------------------


@provision_app.command("agent")
def provision_agent_command(
    store_id: Annotated[str, typer.Option("--store", help="Store id (topic level).")],
    agent_id: Annotated[str, typer.Option("--agent", help="Agent id (topic level).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write <agent>.toml and <agent>.env (0600) into this folder."),
    ] = None,
    broker_host: Annotated[
        str, typer.Option("--broker-host", help="Broker host in the TOML.")
    ] = "broker.example.net",
    broker_port: Annotated[
        int, typer.Option("--broker-port", help="Broker port in the TOML.")
    ] = 8883,
    tls: Annotated[bool, typer.Option("--tls/--no-tls", help="TLS to the broker.")] = True,
    zone: Annotated[
        str, typer.Option(help="This agent's zone (its sensor_zones entry and first zone).")
    ] = "store",
    site_secret_file: Annotated[
        Path | None,
        typer.Option(
            "--site-secret-file",
            help="File holding the store's site secret, copied into <agent>.env.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Make MQTT credentials for one agent: password (shown once), password-file line, ACL.

    With --out, also the agent's TOML and its secrets file.
    """
    import os
    import secrets

    from edge_agent.provisioning import MOSQUITTO_SALT_BYTES, provision_agent
    from edge_agent.technician.provision import agent_env, agent_toml

    try:
        creds = provision_agent(
            store_id,
            agent_id,
            password_bytes=secrets.token_bytes(24),
            salt=secrets.token_bytes(MOSQUITTO_SALT_BYTES),
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    written: list[str] = []
    if out is not None:
        site_secret = None
        if site_secret_file is not None:
            try:
                site_secret = site_secret_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise _fail(f"--site-secret-file: cannot read it ({exc})") from None
            if not site_secret:
                raise _fail(f"--site-secret-file: {site_secret_file} is empty")
        try:
            toml_text = agent_toml(
                creds, broker_host=broker_host, broker_port=broker_port, tls=tls, zone=zone
            )
        except ValueError as exc:
            raise _fail(str(exc)) from None
        toml_path, env_path = out / f"{agent_id}.toml", out / f"{agent_id}.env"
        for p in (toml_path, env_path):
            if p.exists() and not force:
                raise _fail(f"{p} exists; pass --force to overwrite or another --out")
        out.mkdir(parents=True, exist_ok=True)
        toml_path.write_text(toml_text, encoding="utf-8")
        fd = os.open(env_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(agent_env(creds, site_secret))
        os.chmod(env_path, 0o600)
        written = [str(toml_path), str(env_path)]
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "store_id": creds.store_id,
                    "agent_id": creds.agent_id,
                    "username": creds.username,
                    "password": creds.password,
                    "password_line": creds.password_line,
                    "acl": creds.acl_block,
                    "files": written,
                }
            )
        )
        return
    typer.echo(f"username: {creds.username}")
    where = f"it is in {written[1]}" if written else "put it in the agent's .env file"
    typer.echo(f"password: {creds.password}   (shown once: {where})")
    typer.echo("\n# Mosquitto password_file line:")
    typer.echo(creds.password_line)
    typer.echo("\n# Mosquitto acl_file block:")
    typer.echo(creds.acl_block)
    for path in written:
        typer.echo(f"wrote {path}")


def register_technician(app: typer.Typer) -> None:
    """Add ``scan``, ``calibrate``, ``zones`` and ``provision`` to the root app."""
    app.command("scan")(scan)
    app.add_typer(calibrate_app)
    app.add_typer(zones_app)
    app.add_typer(provision_app)
