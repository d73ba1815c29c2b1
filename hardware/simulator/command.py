"""``footfall simulate``: write a seeded simulator run to a directory (see docs/simulator.md).

Imported by ``hardware/cli.py`` at start-up, so only typer and rich at module level.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def simulate_command(
    minutes: Annotated[
        float, typer.Option("--minutes", "-m", help="Simulated opening time (arrivals), minutes.")
    ] = 60.0,
    seed: Annotated[
        int, typer.Option("--seed", "-s", help="Random seed (same seed, same run).")
    ] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("sim-run"),
    shoppers_per_hour: Annotated[
        float, typer.Option("--shoppers-per-hour", help="Shopper arrival rate.")
    ] = 80.0,
    passers_by_per_hour: Annotated[
        float, typer.Option("--passers-by-per-hour", help="Passer-by rate on the sidewalk.")
    ] = 300.0,
    staff: Annotated[int, typer.Option("--staff", help="Staff on the floor all along.")] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
) -> None:
    """Simulate the default store: shoppers, passers-by, staff and their phones."""
    from dataclasses import asdict

    from rich.progress import Progress

    from hardware.simulator import PopulationConfig, SimConfig, SimulatedStore, write_run

    if not minutes > 0 or minutes > 24 * 60:
        typer.echo(f"error: '--minutes' must be in (0, 1440] (got {minutes:g})", err=True)
        raise typer.Exit(code=2)
    if out.exists() and not out.is_dir():
        typer.echo(f"error: '--out' must be a directory (got the file {out})", err=True)
        raise typer.Exit(code=2)
    try:
        population = PopulationConfig(
            shoppers_per_hour=shoppers_per_hour,
            passers_by_per_hour=passers_by_per_hour,
            staff=staff,
        )
        config = SimConfig(duration_s=minutes * 60.0, population=population)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    store = SimulatedStore(config=config, seed=seed)
    total_s = store.end_ts_s - store.start_ts_s
    with Progress(transient=True, disable=as_json) as progress:
        task = progress.add_task("simulating", total=total_s)
        summary = write_run(store, out, lambda done_s: progress.update(task, completed=done_s))
    if as_json:
        typer.echo(json.dumps(asdict(summary)))
        return
    typer.echo(
        f"wrote {out}: {summary.shoppers} shoppers, {summary.passers_by} passers-by, "
        f"{summary.staff} staff; {summary.ble_records} BLE adverts, "
        f"{summary.wifi_records} probe requests; {total_s / 60:.1f} simulated minutes"
    )
