"""Commands that ``edge_agent`` adds to ``footfall``: the ``agent`` group.

Only typer and rich are imported at module level; heavy dependencies are
imported inside the commands, so ``footfall --help`` stays fast on a Pi.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

agent_app = typer.Typer(
    name="agent", help="The edge agent: run it, check its config.", no_args_is_help=True
)

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", help="Agent TOML file (FOOTFALL_AGENT_* variables override)."),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


@agent_app.command("check-config")
def check_config(
    config: ConfigOption,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the effective settings as JSON.")
    ] = False,
) -> None:
    """Validate the config and explain every problem; print the effective settings."""
    from edge_agent.config import ConfigError, load_settings

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        if as_json:
            typer.echo(json.dumps({"ok": False, "errors": str(exc).splitlines()}))
        else:
            for line in str(exc).splitlines():
                typer.echo(f"error: {line}", err=True)
        raise typer.Exit(code=2) from None
    doc: dict[str, Any] = settings.model_dump(mode="json")
    if as_json:
        typer.echo(json.dumps({"ok": True, "settings": doc}))
        return
    typer.echo(f"ok: agent {settings.agent_id} of store {settings.store_id}")
    typer.echo(f"  topics:  {settings.topic_root}/{{events,status,occupancy,rssi,config}}")
    tls = "TLS" if settings.mqtt.tls else "plain TCP"
    user = settings.mqtt.username or "anonymous"
    typer.echo(f"  broker:  {settings.mqtt.host}:{settings.mqtt.port} ({tls}, user {user})")
    radios = [
        n
        for n, on in (
            ("ble", settings.sources.ble.enabled),
            ("wifi", settings.sources.wifi.enabled),
        )
        if on
    ]
    typer.echo(f"  sources: {', '.join(radios) or 'none (use --replay or --simulate)'}")
    if settings.tracker == "kalman":
        placed = "the strongest sensor"
        if settings.fingerprints is not None:
            from edge_agent.technician.zones import load_fingerprints

            survey = load_fingerprints(settings.fingerprints)  # validated by load_settings
            n = f"{len(survey.zones)} fingerprint{'s' * (len(survey.zones) != 1)}"
            placed = (
                f"a grid filter over surveyed spots ({n}"
                if survey.xy_m is not None
                else f"a kNN ({n}, no spots"
            ) + f" in {settings.fingerprints})"
        typer.echo(f"  tracker: kalman, BLE zones by {placed}")
    else:
        zones = ", ".join(f"{z.name}>={z.min_rssi_dbm:g}dBm" for z in settings.zones)
        typer.echo(f"  tracker: proximity, zones {zones}")
    typer.echo(
        f"  outbox:  {settings.outbox.path} (max {settings.outbox.max_events} events, "
        f"{settings.outbox.when_full} when full)"
    )


@agent_app.command("run")
def run(
    config: ConfigOption,
    replay: Annotated[
        Path | None, typer.Option("--replay", help="Replay a capture (sightings JSONL, pcap).")
    ] = None,
    simulate: Annotated[bool, typer.Option("--simulate", help="Feed the store simulator.")] = False,
    sim: Annotated[
        str, typer.Option("--sim", help="Simulator: 'store' (floor plan) or 'synthetic' (load).")
    ] = "store",
    speed: Annotated[
        float,
        typer.Option(
            help="Replay/simulation: stream seconds per wall second; 0 = as fast as possible."
        ),
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 1,
    duration_s: Annotated[float, typer.Option("--duration-s", help="Simulated seconds.")] = 600.0,
    arrivals_per_s: Annotated[
        float, typer.Option("--arrivals-per-s", help="Simulated arrivals per second.")
    ] = 0.5,
    start_s: Annotated[
        float | None, typer.Option("--start-s", help="Simulation start, UTC POSIX seconds.")
    ] = None,
    record: Annotated[
        Path | None, typer.Option("--record", help="Append every sighting to this JSONL file.")
    ] = None,
    no_mqtt: Annotated[bool, typer.Option("--no-mqtt", help="Only fill the outbox.")] = False,
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Do not exit when a replay/simulation ends.")
    ] = False,
    drain_timeout_s: Annotated[
        float,
        typer.Option("--drain-timeout-s", help="After a finite source: wait this long for acks."),
    ] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary at exit.")] = False,
) -> None:
    """Run the agent until SIGTERM/SIGINT (or the end of a replay/simulation)."""
    import asyncio
    import signal

    from edge_agent.bootstrap import SourceChoice, build_agent, build_sources, sensor_zones_for
    from edge_agent.config import ConfigError, load_settings
    from edge_agent.outbox import OutboxError
    from edge_agent.sources import SourceError
    from positioning.tracker import TrackerConfigError

    if replay is not None and simulate:
        raise _fail("--replay and --simulate exclude each other (got both)")
    if sim not in ("store", "synthetic"):
        raise _fail(f"--sim must be 'store' or 'synthetic' (got {sim!r})")
    if speed < 0:
        raise _fail(f"--speed must be >= 0 (got {speed})")
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        raise _fail(str(exc).replace("\n", "; ")) from None
    choice = SourceChoice(
        replay=replay,
        simulate=simulate,
        sim=sim,
        speed=None if speed == 0 else speed,
        seed=seed,
        duration_s=duration_s,
        arrivals_per_s=arrivals_per_s,
        start_s=start_s,
    )
    try:
        sources = build_sources(settings, choice)
        agent = build_agent(
            settings,
            with_mqtt=not no_mqtt,
            record=record,
            sensor_zones=sensor_zones_for(settings, choice),
        )
    except (SourceError, OutboxError, TrackerConfigError) as exc:
        raise _fail(str(exc)) from None

    async def main() -> Any:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await agent.run(
            sources, stop, exit_when_done=not keep_running, drain_timeout_s=drain_timeout_s
        )

    try:
        result = asyncio.run(main())
    except SourceError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "sightings": result.sightings,
                    "events": result.events,
                    "first_seq": result.first_seq,
                    "last_seq": result.last_seq,
                    "outbox_depth": result.outbox_depth,
                }
            )
        )


def register(app: typer.Typer) -> None:
    """Add this package's commands and command groups to the root app."""
    app.add_typer(agent_app)
    from edge_agent.technician_cli import register_technician

    register_technician(app)
    from edge_agent.evaluate_cli import evaluate_command

    app.command("evaluate", help="Score the positioning pipeline on a 'footfall simulate' run.")(
        evaluate_command
    )
