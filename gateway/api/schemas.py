"""Request (``...In``) and response (``...Out``) models of the HTTP API.

Responses never carry a device key, a person key or any other identifier of a person:
only counts, and counts built from fewer than k distinct devices or people come back
as ``null`` with ``suppressed: true``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from gateway.api.auth import Role
from gateway.schemas import NAME_PATTERN

CAMPAIGN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
DAY_S = 86_400.0


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorOut(_Out):
    detail: str | list[dict[str, Any]] = Field(description="What was wrong, naming the field.")


# --- stores and zones ------------------------------------------------------------------


def _known_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: give an IANA name such as 'Europe/Warsaw'"
        ) from None
    return name


class StoreIn(_In):
    id: str = Field(pattern=NAME_PATTERN, description="Store id, as the agents' topics use it.")
    name: str | None = Field(default=None, max_length=200)
    timezone: Annotated[str, AfterValidator(_known_time_zone)] = Field(
        default="UTC",
        min_length=1,
        max_length=64,
        description="IANA time zone name (stored; reports and charts use UTC days and hours).",
    )


class StoreOut(_Out):
    id: str
    name: str | None
    timezone: str
    created_at: datetime
    zones: int


class ZoneIn(_In):
    name: str = Field(pattern=NAME_PATTERN)
    label: str | None = Field(default=None, max_length=200)
    min_rssi_dbm: float = Field(
        default=-75.0, ge=-120.0, le=0.0, description="Device is in the zone at this RSSI or more."
    )
    position: int = Field(default=0, ge=0, le=10_000, description="Lower first: nearest first.")


class ZoneUpdateIn(_In):
    label: str | None = Field(default=None, max_length=200)
    min_rssi_dbm: float | None = Field(default=None, ge=-120.0, le=0.0)
    position: int | None = Field(default=None, ge=0, le=10_000)


class ZoneOut(_Out):
    store_id: str
    name: str
    label: str | None
    min_rssi_dbm: float
    position: int


class ConfigPushOut(_Out):
    pushed: bool = Field(description="True when every agent's retained config was acknowledged.")
    version: str | None
    agents: list[str]
    error: str | None = None


class ZoneChangeOut(_Out):
    zone: ZoneOut | None
    config_push: ConfigPushOut


# --- agents ----------------------------------------------------------------------------


class AgentOut(_Out):
    store_id: str
    agent_id: str
    online: bool = Field(description="Reported online and heard from recently.")
    health: str
    version: str | None
    uptime_s: float | None
    last_seen_at: datetime
    seconds_since_seen: float
    adverts_per_s: float | None
    probes_per_s: float | None
    events: int | None
    tracked_devices: int | None
    outbox_depth: int | None
    outbox_age_s: float | None
    drops: dict[str, int]


# --- footfall --------------------------------------------------------------------------


class FootfallRowOut(_Out):
    day: str = Field(description="UTC day, YYYY-MM-DD; 'total' for the whole period.")
    visits: int | None = Field(description="Visits of visitors (visitor and engaged classes).")
    passers_by: int | None
    engaged: int | None
    capture_rate: float | None = Field(description="visits / (visits + passers_by)")
    new_visits: int | None = Field(description="No earlier visit of the device within the horizon.")
    repeat_visits: int | None
    unknown_visits: int | None = Field(description="Randomized Wi-Fi keys: new vs repeat unknown.")
    suppressed: bool


class FootfallOut(_Out):
    store_id: str | None
    period_from: datetime
    period_to: datetime
    k: int
    privacy_horizon_days: float
    days: list[FootfallRowOut]
    total: FootfallRowOut


class DwellBucketOut(_Out):
    bucket: str
    lower_s: float
    upper_s: float | None
    visits: int | None
    suppressed: bool


class DwellOut(_Out):
    store_id: str | None
    zone: str | None
    k: int
    buckets: list[DwellBucketOut]


class HeatCellOut(_Out):
    weekday: int = Field(ge=0, le=6, description="0 = Monday (UTC).")
    hour: int = Field(ge=0, le=23)
    visits: int | None
    suppressed: bool


class HeatOut(_Out):
    store_id: str | None
    zone: str | None
    k: int
    cells: list[HeatCellOut]


class ZoneStatsOut(_Out):
    zone: str
    visits: int | None
    mean_dwell_s: float | None
    suppressed: bool


class OccupancyZoneOut(_Out):
    store_id: str
    zone: str
    devices: int = Field(description="Max over the agents' latest counts of this zone.")
    agents: int
    sampled_at: datetime


class OccupancyOut(_Out):
    at: datetime
    max_age_s: float
    zones: list[OccupancyZoneOut]


# --- campaigns -------------------------------------------------------------------------


class CampaignIn(_In):
    id: str = Field(pattern=CAMPAIGN_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    channels: list[str] = Field(default_factory=list, max_length=50)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    window_click_days: float = Field(default=30.0, gt=0, le=365)
    window_impression_days: float = Field(default=1.0, gt=0, le=365)
    window_engaged_view_days: float = Field(default=3.0, gt=0, le=365)
    control_design: Literal["randomized_holdout", "none"] = "randomized_holdout"


class CampaignOut(_Out):
    id: str
    name: str
    channels: list[str]
    starts_at: datetime
    ends_at: datetime
    window_click_days: float
    window_impression_days: float
    window_engaged_view_days: float
    control_design: str
    exposures: int


class RowErrorOut(_Out):
    line: int
    field: str
    reason: str


class ImportOut(_Out):
    rows: int
    inserted: int
    already_present: int
    duplicates_in_file: int


class ImportRefusedOut(_Out):
    detail: str | list[dict[str, Any]]
    errors: list[RowErrorOut] = Field(default_factory=list)


class StreamOut(_Out):
    inserted: int
    dropped: dict[str, int] = Field(description="Events dropped, by the failing field's name.")


class RevokeLinksIn(_In):
    device_key: str | None = Field(default=None, min_length=1, max_length=128)
    person_key: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    source: str | None = Field(default=None, min_length=1, max_length=32)


class RevokedOut(_Out):
    revoked: int


class ReportOut(_Out):
    report: str
    parameters: dict[str, Any]
    sections: dict[str, list[dict[str, Any]]]


# --- keys ------------------------------------------------------------------------------


class KeyIn(_In):
    name: str = Field(min_length=1, max_length=200)
    role: Role


class KeyOut(_Out):
    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None


class KeyCreatedOut(KeyOut):
    key: str = Field(description="The key itself: shown this once, only its hash is stored.")
