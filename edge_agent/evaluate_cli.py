"""``footfall evaluate``: score the pipeline on a simulator run (see docs/evaluation.md).

Imported by ``edge_agent/cli.py`` at start-up, so only typer and rich at module level.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def evaluate_command(
    run_dir: Annotated[Path, typer.Argument(help="A directory written by 'footfall simulate'.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    no_survey: Annotated[
        bool,
        typer.Option(
            "--no-survey",
            help="Place BLE devices by the strongest sensor even if the run has a site survey.",
        ),
    ] = False,
    no_spots: Annotated[
        bool,
        typer.Option(
            "--no-spots",
            help="Place BLE devices by the kNN over the survey even if its rows have spots "
            "(the grid filter's predecessor, for comparison).",
        ),
    ] = False,
) -> None:
    """Decode, track and score a simulated run against its ground truth."""
    from rich.progress import Progress

    from edge_agent.evaluate import EvaluateError, evaluate_run, format_report

    try:
        with Progress(transient=True, disable=as_json) as progress:
            task = progress.add_task("evaluating", total=None)
            report = evaluate_run(
                run_dir,
                progress=lambda ts: progress.update(task, description=f"t={ts:.0f}"),
                use_survey=not no_survey,
                use_spots=not no_spots,
            )
    except (EvaluateError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    if as_json:
        typer.echo(json.dumps(report.to_json()))
    else:
        typer.echo(format_report(report))
