"""Campaign domain values: campaigns, exposures, identity links, windows, control design.

Frozen, slotted, validated on construction. Times are timezone-aware datetimes; a naive
datetime is refused, because "10:00" without a zone is a different instant per store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

#: Exposures up to this long *after* a visit start still count: ad servers and store
#: agents disagree on the clock by a few seconds.
CLOCK_SKEW_TOLERANCE_S = 10.0

DAY_S = 86_400.0
DEFAULT_CLICK_WINDOW_S = 30 * DAY_S
DEFAULT_IMPRESSION_WINDOW_S = 1 * DAY_S
DEFAULT_ENGAGED_VIEW_WINDOW_S = 3 * DAY_S

_PERSON_KEY = re.compile(r"^[0-9a-f]{64}$")
_CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class CampaignError(ValueError):
    """Base of this package's input errors: a value that breaks a stated rule."""


class ExposureKind(StrEnum):
    """How a person met the campaign."""

    CLICK = "click"
    IMPRESSION = "impression"
    ENGAGED_VIEW = "engaged_view"


class Group(StrEnum):
    """Arm of the campaign's experiment an exposure belongs to."""

    EXPOSED = "exposed"
    CONTROL = "control"


class ControlDesign(StrEnum):
    """How the control group was built: a randomized holdout imported with exposures, or none."""

    RANDOMIZED_HOLDOUT = "randomized_holdout"
    NONE = "none"


def require_aware(name: str, value: datetime) -> None:
    """Refuse naive datetimes, naming the field."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise CampaignError(f"'{name}' must be timezone-aware (got naive {value.isoformat()})")


def is_person_key(value: str) -> bool:
    """True for a lower-case 64-hex SHA-256 digest."""
    return bool(_PERSON_KEY.match(value))


@dataclass(frozen=True, slots=True)
class AttributionWindows:
    """Look-back window per exposure kind, in seconds."""

    click_s: float = DEFAULT_CLICK_WINDOW_S
    impression_s: float = DEFAULT_IMPRESSION_WINDOW_S
    engaged_view_s: float = DEFAULT_ENGAGED_VIEW_WINDOW_S

    def __post_init__(self) -> None:
        for name in ("click_s", "impression_s", "engaged_view_s"):
            value = getattr(self, name)
            if not 0 < value <= 366 * DAY_S:
                raise CampaignError(f"'{name}' must be in (0, 366 days] seconds (got {value})")

    def for_kind(self, kind: ExposureKind) -> float:
        """Window in seconds for one exposure kind."""
        return {
            ExposureKind.CLICK: self.click_s,
            ExposureKind.IMPRESSION: self.impression_s,
            ExposureKind.ENGAGED_VIEW: self.engaged_view_s,
        }[kind]

    @property
    def longest_s(self) -> float:
        return max(self.click_s, self.impression_s, self.engaged_view_s)

    def as_dict(self) -> dict[str, float]:
        return {
            "click_s": self.click_s,
            "impression_s": self.impression_s,
            "engaged_view_s": self.engaged_view_s,
        }


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign: its channels, flight dates, windows and control design."""

    id: str
    name: str
    channels: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    windows: AttributionWindows = field(default_factory=AttributionWindows)
    control_design: ControlDesign = ControlDesign.RANDOMIZED_HOLDOUT

    def __post_init__(self) -> None:
        if not _CAMPAIGN_ID.match(self.id):
            raise CampaignError(
                f"'id' must be 1-64 characters of letters, digits, _ . : - (got {self.id!r})"
            )
        if not self.name.strip():
            raise CampaignError("'name' must not be blank (got an empty name)")
        if any(not c.strip() for c in self.channels):
            raise CampaignError(f"'channels' must not contain blank names (got {self.channels!r})")
        require_aware("starts_at", self.starts_at)
        require_aware("ends_at", self.ends_at)
        if self.ends_at <= self.starts_at:
            raise CampaignError(
                f"'ends_at' must be after 'starts_at' (got {self.starts_at.isoformat()} .. "
                f"{self.ends_at.isoformat()})"
            )


@dataclass(frozen=True, slots=True)
class Exposure:
    """One exposure of one person (by person_key) to a campaign."""

    campaign_id: str
    person_key: str
    ts: datetime
    kind: ExposureKind
    channel: str
    creative: str
    group: Group
    store_id: str | None = None

    def __post_init__(self) -> None:
        if not is_person_key(self.person_key):
            raise CampaignError(
                f"'person_key' must be 64 lower-case hex characters (got {len(self.person_key)} "
                "characters)"
            )
        require_aware("ts", self.ts)
        if not self.channel.strip():
            raise CampaignError("'channel' must not be blank")


class LinkSource(StrEnum):
    """Consented sources that may link a device to a person."""

    APP = "app"
    WIFI_LOGIN = "wifi_login"


@dataclass(frozen=True, slots=True)
class IdentityLink:
    """A consented device_key <-> person_key link with its validity and revocation."""

    device_key: str
    person_key: str
    source: LinkSource
    consented_at: datetime
    valid_from: datetime
    valid_to: datetime | None = None
    revoked_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.device_key.strip():
            raise CampaignError("'device_key' must not be blank")
        if not is_person_key(self.person_key):
            raise CampaignError("'person_key' must be 64 lower-case hex characters")
        require_aware("consented_at", self.consented_at)
        require_aware("valid_from", self.valid_from)
        if self.valid_to is not None:
            require_aware("valid_to", self.valid_to)
            if self.valid_to <= self.valid_from:
                raise CampaignError(
                    f"'valid_to' must be after 'valid_from' (got {self.valid_from.isoformat()} .. "
                    f"{self.valid_to.isoformat()})"
                )
        if self.valid_from < self.consented_at:
            raise CampaignError(
                "'valid_from' must not precede 'consented_at' (got "
                f"{self.valid_from.isoformat()} < {self.consented_at.isoformat()})"
            )

    def active_at(self, when: datetime) -> bool:
        """Valid at ``when`` and not revoked (revocation removes the link from every report)."""
        if self.revoked_at is not None:
            return False
        return self.valid_from <= when and (self.valid_to is None or when < self.valid_to)
