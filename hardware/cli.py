"""Commands that ``hardware`` adds to ``footfall``.

Only typer and rich are imported at module level; heavy dependencies are
imported inside the commands, so ``footfall --help`` stays fast on a Pi.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from hardware.capture import DecodeStats
    from hardware.privacy import DeviceKeyer

SITE_SECRET_ENV = "FOOTFALL_SITE_SECRET"  # noqa: S105 - the variable name, not a secret


def register(app: typer.Typer) -> None:
    """Add this package's commands and command groups to the root app."""
    app.command(
        "decode",
        help=(
            "Decode a Wi-Fi capture (pcap/pcapng) or a BLE JSONL recording: one JSON object "
            "per observation on stdout, a summary on stderr. See docs/decode.md."
        ),
    )(decode_command)
    from hardware.simulator.command import simulate_command

    app.command(
        "simulate",
        help="Simulate a store (shoppers, passers-by, staff, phones) into a directory.",
    )(simulate_command)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def decode_command(
    path: Annotated[
        Path, typer.Argument(help="A .pcap/.pcapng capture, or BLE JSONL with --jsonl.")
    ],
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="PATH is a JSONL recording of BLE advertisements.")
    ] = False,
    show_raw: Annotated[
        bool,
        typer.Option(
            "--show-raw",
            help="Also print raw MACs, SSIDs and beacon ids (technicians only; never ship this).",
        ),
    ] = False,
    show_skipped: Annotated[
        bool,
        typer.Option("--show-skipped", help="Also print one line per skipped frame and why."),
    ] = False,
    site_secret: Annotated[
        str | None,
        typer.Option(
            "--site-secret",
            envvar=SITE_SECRET_ENV,
            show_envvar=True,
            help="The site's secret for device keys (prefer the environment variable).",
        ),
    ] = None,
    sensor_id: Annotated[
        str | None,
        typer.Option(
            "--sensor-id",
            help="Sensor id for each observation (default 'replay'; BLE JSONL: each record's).",
        ),
    ] = None,
    infrastructure: Annotated[
        list[str] | None,
        typer.Option(
            "--infrastructure",
            help="An infrastructure beacon as BEACON_ID=NAME (repeatable): shown by name.",
        ),
    ] = None,
    json_summary: Annotated[
        bool, typer.Option("--json-summary", help="Print the stderr summary as one JSON object.")
    ] = False,
) -> None:
    import json
    import secrets

    from hardware.capture import CaptureFormatError, DecodeStats
    from hardware.privacy import DeviceKeyer, PrivacyConfigError

    table: dict[str, str] = {}
    for item in infrastructure or []:
        beacon_id, separator, name = item.partition("=")
        if not separator or not beacon_id.strip() or not name.strip():
            raise _fail(f"--infrastructure must look like BEACON_ID=NAME (got {item!r})")
        table[beacon_id] = name
    if site_secret is None:
        secret = secrets.token_bytes(32)
        typer.echo(
            f"note: no --site-secret or {SITE_SECRET_ENV} given; using a random secret for this "
            "run, so device keys match no agent's and change on every run",
            err=True,
        )
    else:
        secret = site_secret.encode("utf-8")
    try:
        keyer = DeviceKeyer(secret, table)
    except PrivacyConfigError as exc:
        raise _fail(str(exc).replace("'site_secret'", "--site-secret")) from None
    if not path.is_file():
        raise _fail(f"{path}: no such file")

    stats = DecodeStats()
    lines: Iterator[dict[str, Any]]
    if jsonl:
        lines = _ble_lines(path, keyer, stats, sensor_id, show_raw=show_raw, skipped=show_skipped)
    else:
        lines = _wifi_lines(
            path, keyer, stats, sensor_id or "replay", show_raw=show_raw, skipped=show_skipped
        )
    out = sys.stdout
    try:
        with _progress(path) as advance:
            for line in lines:
                out.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
                advance()
        out.flush()
    except CaptureFormatError as exc:
        hint = "" if jsonl else "; for a BLE JSONL recording pass --jsonl"
        raise _fail(f"{exc}{hint}") from None
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):  # `footfall decode x.pcap | head`: fine
            _silence_stdout()
            raise typer.Exit(code=0) from None
        raise _fail(f"{path}: {exc.strerror or exc}") from None
    _print_summary(stats, as_json=json_summary)


def _wifi_lines(
    path: Path,
    keyer: DeviceKeyer,
    stats: DecodeStats,
    sensor_id: str,
    *,
    show_raw: bool,
    skipped: bool,
) -> Iterator[dict[str, Any]]:
    from hardware.capture import iter_probe_requests
    from hardware.sightings import sighting_from_probe
    from hardware.wifi import ProbeRequest

    for result in iter_probe_requests(path, stats):
        if not isinstance(result, ProbeRequest):
            if skipped:
                yield {
                    "skipped": result.reason.value,
                    "ts": _rfc3339(result.ts_s),
                    "ts_s": result.ts_s,
                    "detail": result.detail,
                }
            continue
        sighting = sighting_from_probe(result, sensor_id, keyer)
        line: dict[str, Any] = {
            "signal": sighting.signal.value,
            "ts": _rfc3339(result.ts_s),
            "ts_s": result.ts_s,
            "sensor_id": sensor_id,
            "device_key": sighting.device_key,
            "id_class": sighting.id_class.value,
            "rssi_dbm": result.rssi_dbm,
            "channel": result.channel,
            "freq_mhz": result.freq_mhz,
            "ssid_kind": "wildcard" if result.ssid is None else "directed",
            "seq_num": result.seq_num,
            "randomized": result.randomized,
            "ie_fingerprint": sighting.ie_fingerprint,
        }
        if show_raw:
            line["mac"] = result.mac
            line["ssid"] = result.ssid
            line["ie_fingerprint_raw"] = result.ie_fingerprint
            line["ie_ids"] = list(result.ie_ids)
        yield line


def _ble_lines(
    path: Path,
    keyer: DeviceKeyer,
    stats: DecodeStats,
    sensor_id: str | None,
    *,
    show_raw: bool,
    skipped: bool,
) -> Iterator[dict[str, Any]]:
    from hardware.ble import Rejection
    from hardware.ble_jsonl import JsonlError, iter_ble_jsonl
    from hardware.sightings import BeaconFrame, sighting_from_ble

    for record in iter_ble_jsonl(path):
        stats.frames_read += 1
        if isinstance(record, JsonlError):
            stats.add_skipped(record.reason.value)
            if skipped:
                yield {
                    "skipped": record.reason.value,
                    "line": record.line_number,
                    "detail": record.detail,
                }
            continue
        results = record.decode()
        record_sensor_id = sensor_id or record.sensor_id
        for frame in results:
            sighting = sighting_from_ble(
                frame,
                ts_s=record.ts_s,
                rssi_dbm=record.rssi_dbm,
                sensor_id=record_sensor_id,
                keyer=keyer,
            )
            if sighting is None or not isinstance(frame, BeaconFrame):
                reason = frame.reason.value if isinstance(frame, Rejection) else "not_a_beacon"
                stats.add_skipped(reason)
                if skipped:
                    yield {
                        "skipped": reason,
                        "ts": _rfc3339(record.ts_s),
                        "ts_s": record.ts_s,
                        "detail": str(getattr(frame, "kind", type(frame).__name__)),
                    }
                continue
            stats.add_decoded(has_rssi=sighting.rssi_dbm is not None)
            line: dict[str, Any] = {
                "signal": sighting.signal.value,
                "ts": _rfc3339(record.ts_s),
                "ts_s": record.ts_s,
                "sensor_id": record_sensor_id,
                "device_key": sighting.device_key,
                "id_class": sighting.id_class.value,
                "rssi_dbm": sighting.rssi_dbm,
                "frame": str(getattr(frame, "kind", type(frame).__name__)),
                "tx_power_1m_dbm": sighting.tx_power_dbm,
            }
            if show_raw:
                line["address"] = record.address
                line["beacon_id"] = frame.beacon_id
            yield line


def _rfc3339(ts_s: float) -> str:
    from datetime import UTC, datetime

    try:
        moment = datetime.fromtimestamp(ts_s, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return ""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _progress:  # noqa: N801 - used like a function: `with _progress(path) as advance`
    """A rich spinner with a frame count on stderr, only when stderr is a terminal."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Any:
        if not sys.stderr.isatty():
            return lambda: None
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("decoding {task.description}: {task.completed} observations"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(self._path.name, total=None)
        return lambda: self._progress.advance(self._task)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def _silence_stdout() -> None:
    # Python flushes stdout at exit and would report the broken pipe again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _print_summary(stats: DecodeStats, *, as_json: bool) -> None:
    import json

    summary = stats.as_dict()
    if as_json:
        typer.echo(json.dumps(summary, sort_keys=True), err=True)
        return
    reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(stats.skipped.items()))
    text = (
        f"frames read: {stats.frames_read}, decoded: {stats.decoded}, "
        f"skipped: {stats.skipped_total}" + (f" ({reasons})" if reasons else "")
    )
    text += f", without RSSI: {stats.without_rssi}"
    if stats.truncated_file:
        text += ", file truncated (read up to the last whole frame)"
    typer.echo(text, err=True)
