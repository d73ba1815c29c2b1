"""Pure parsing of exposure and identity-link files (CSV or JSON lines).

The parser reads text, validates every row and returns the good rows *and* every bad
row's line number and reason. Whether anything is stored is the caller's decision; the
CLI stores nothing when there is a single error (all-or-nothing).

Exposure columns (CSV header or JSON keys):

=============  ========  ==================================================================
column         required  meaning
=============  ========  ==================================================================
person         one of    raw e-mail, phone or loyalty id (hashed on read, never kept), or
person_key     the two   its SHA-256 hex (64 hex characters)
ts             yes       ISO 8601 timestamp *with* zone: ``2026-11-02T09:15:00+01:00``, ``...Z``
kind           yes       ``click``, ``impression`` (alias ``view``), ``engaged_view``
channel        yes       e.g. ``social``, ``search``, ``display``
creative       no        creative id or name (empty when absent)
group          yes       ``exposed`` or ``control``
store_id       no        store the exposure targeted (geo campaigns)
=============  ========  ==================================================================

Identity-link columns: ``device_key``, ``person`` or ``person_key``, ``source`` (``app``,
``wifi_login``), ``consented_at``, ``valid_from`` (default: ``consented_at``),
``valid_to`` (optional).

Rows identical in every field are kept once: re-importing a file adds nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from campaigns.identity import IdentifierError, IdentifierKind, person_key
from campaigns.model import (
    CampaignError,
    Exposure,
    ExposureKind,
    Group,
    IdentityLink,
    LinkSource,
)

T = TypeVar("T")

_KIND_ALIASES = {"view": ExposureKind.IMPRESSION, "engaged-view": ExposureKind.ENGAGED_VIEW}


class FileFormat(StrEnum):
    """Supported import file formats."""

    CSV = "csv"
    JSONL = "jsonl"

    @classmethod
    def from_filename(cls, name: str) -> FileFormat:
        lowered = name.lower()
        if lowered.endswith(".csv"):
            return cls.CSV
        if lowered.endswith((".jsonl", ".ndjson", ".json")):
            return cls.JSONL
        raise CampaignError(f"'file' must end in .csv, .jsonl or .ndjson (got {name!r})")


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad row: its 1-based line number in the file, the field and the reason."""

    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ParseResult(Generic[T]):
    """Good rows (deduplicated, in file order) and every error, by line."""

    rows: tuple[T, ...]
    errors: tuple[RowError, ...]
    duplicates: int

    @property
    def ok(self) -> bool:
        return not self.errors


class _RowProblemError(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def parse_timestamp(field: str, raw: Any) -> datetime:
    """An ISO 8601 timestamp with zone, converted to UTC."""
    if not isinstance(raw, str) or not raw.strip():
        raise _RowProblemError(field, "must be an ISO 8601 timestamp with zone (got nothing)")
    text = raw.strip()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _RowProblemError(
            field, f"must be an ISO 8601 timestamp with zone (got {text[:40]!r})"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise _RowProblemError(field, f"must carry a zone such as Z or +01:00 (got {text[:40]!r})")
    return value.astimezone(UTC)


def _text(row: Mapping[str, Any], field: str, *, required: bool) -> str | None:
    raw = row.get(field)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise _RowProblemError(field, "is required (got nothing)")
        return None
    if not isinstance(raw, str | int):
        raise _RowProblemError(field, f"must be text (got {type(raw).__name__})")
    return str(raw).strip()


def _person(row: Mapping[str, Any], default_country_code: str | None) -> str:
    hashed = _text(row, "person_key", required=False)
    raw = _text(row, "person", required=False)
    if hashed is None and raw is None:
        raise _RowProblemError(
            "person", "one of 'person' or 'person_key' is required (got neither)"
        )
    try:
        if hashed is not None:
            # the person_key column is never hashed again: it must already be the digest
            return person_key(hashed, kind=IdentifierKind.PERSON_KEY)
        assert raw is not None  # noqa: S101 - narrowed by the check above
        return person_key(raw, default_country_code=default_country_code)
    except IdentifierError as exc:
        raise _RowProblemError("person" if hashed is None else "person_key", str(exc)) from None


def _enum(enum: type[StrEnum], field: str, raw: str, aliases: Mapping[str, StrEnum]) -> Any:
    value = raw.strip().lower()
    if value in aliases:
        return aliases[value]
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise _RowProblemError(field, f"must be one of {allowed} (got {raw[:40]!r})") from None


def exposure_from_mapping(
    row: Mapping[str, Any], campaign_id: str, default_country_code: str | None = None
) -> Exposure:
    """One exposure from a dict (file row or a server-to-server event).

    Raises :class:`ExposureRowError` naming the field; never echoes a raw identifier.
    """
    try:
        return _exposure(row, campaign_id, default_country_code)
    except _RowProblemError as problem:
        raise ExposureRowError(problem.field, problem.reason) from None


class ExposureRowError(CampaignError):
    """A single exposure that failed validation (streaming path)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"'{field}' {reason}")
        self.field = field
        self.reason = reason


def _exposure(row: Mapping[str, Any], campaign_id: str, cc: str | None) -> Exposure:
    key = _person(row, cc)
    ts = parse_timestamp("ts", row.get("ts"))
    kind_raw = _text(row, "kind", required=True)
    group_raw = _text(row, "group", required=True)
    channel = _text(row, "channel", required=True)
    assert kind_raw is not None  # noqa: S101
    assert group_raw is not None  # noqa: S101
    assert channel is not None  # noqa: S101
    kind = _enum(ExposureKind, "kind", kind_raw, _KIND_ALIASES)
    group = _enum(Group, "group", group_raw, {})
    creative = _text(row, "creative", required=False) or ""
    store_id = _text(row, "store_id", required=False)
    try:
        return Exposure(campaign_id, key, ts, kind, channel, creative, group, store_id)
    except CampaignError as exc:
        raise _RowProblemError("row", str(exc)) from None


def _link(row: Mapping[str, Any], cc: str | None) -> IdentityLink:
    device_key = _text(row, "device_key", required=True)
    assert device_key is not None  # noqa: S101
    key = _person(row, cc)
    source_raw = _text(row, "source", required=True)
    assert source_raw is not None  # noqa: S101
    source = _enum(LinkSource, "source", source_raw, {"wifi-login": LinkSource.WIFI_LOGIN})
    consented_at = parse_timestamp("consented_at", row.get("consented_at"))
    valid_from = (
        parse_timestamp("valid_from", row["valid_from"])
        if _text(row, "valid_from", required=False)
        else consented_at
    )
    valid_to = (
        parse_timestamp("valid_to", row["valid_to"])
        if _text(row, "valid_to", required=False)
        else None
    )
    try:
        return IdentityLink(device_key, key, source, consented_at, valid_from, valid_to)
    except CampaignError as exc:
        raise _RowProblemError("row", str(exc)) from None


def _records(text: str, fmt: FileFormat) -> Iterator[tuple[int, Mapping[str, Any] | RowError]]:
    if fmt is FileFormat.CSV:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if reader.fieldnames is None:
            return
        reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
        for record in reader:
            if None in record:
                yield (
                    reader.line_num,
                    RowError(reader.line_num, "row", "has more cells than the header"),
                )
                continue
            yield reader.line_num, record
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, RowError(number, "row", f"is not valid JSON ({exc.msg})")
            continue
        if not isinstance(obj, dict):
            yield (
                number,
                RowError(number, "row", f"must be a JSON object (got {type(obj).__name__})"),
            )
            continue
        yield number, {str(k).lower(): v for k, v in obj.items()}


def _parse(text: str, fmt: FileFormat, build: Callable[[Mapping[str, Any]], T]) -> ParseResult[T]:
    rows: list[T] = []
    seen: set[T] = set()
    errors: list[RowError] = []
    duplicates = 0
    for line, record in _records(text, fmt):
        if isinstance(record, RowError):
            errors.append(record)
            continue
        try:
            value = build(record)
        except _RowProblemError as problem:
            errors.append(RowError(line, problem.field, problem.reason))
            continue
        if value in seen:
            duplicates += 1
            continue
        seen.add(value)
        rows.append(value)
    return ParseResult(tuple(rows), tuple(errors), duplicates)


def parse_exposures(
    text: str, fmt: FileFormat, campaign_id: str, default_country_code: str | None = None
) -> ParseResult[Exposure]:
    """Validate every exposure row; see the module docstring for the columns."""
    return _parse(text, fmt, lambda r: _exposure(r, campaign_id, default_country_code))


def parse_links(
    text: str, fmt: FileFormat, default_country_code: str | None = None
) -> ParseResult[IdentityLink]:
    """Validate every identity-link row; see the module docstring for the columns."""
    return _parse(text, fmt, lambda r: _link(r, default_country_code))
