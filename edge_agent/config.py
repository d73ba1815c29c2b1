"""Agent settings: a TOML file, overridden by ``FOOTFALL_AGENT_*`` environment variables.

Precedence (highest first): keyword arguments, environment
(``FOOTFALL_AGENT_MQTT__HOST=broker``; ``__`` separates nested groups), the TOML
file. Every error names the field path, what was expected and what came.

Groups::

    store_id, agent_id, site_secret, infrastructure_beacons (id -> name)
    [mqtt]        host, port, tls, ca, username, password, keepalive_s, backoff_*
    [sources.ble] enabled, adapter, passive, min_adverts_per_s, ...
    [sources.wifi] enabled, iface, channels, hop_interval_s
    [[zones]]     name, min_rssi_dbm
    [thresholds]  exit_grace_s, visit_gap_s, min_dwell_s, evict_after_s, max_devices
    [outbox]      path, max_events, when_full
    [status]      interval_s, occupancy_interval_s, rssi_summaries
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = [
    "AgentSettings",
    "BleSettings",
    "ConfigError",
    "MqttSettings",
    "OutboxSettings",
    "SourcesSettings",
    "StatusSettings",
    "ThresholdSettings",
    "WifiSettings",
    "ZoneSettings",
    "load_settings",
]

# Store and agent ids become MQTT topic levels and file names: no wildcards, separators or spaces.
_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# Words that mark a secret copied from an example rather than generated for the site.
_PLACEHOLDER_WORDS = ("change", "example", "placeholder", "secret", "xxxx", "todo", "replace")
# A site secret keys every device hash; 16 bytes of entropy is the least we accept.
MIN_SECRET_CHARS = 16


class ConfigError(ValueError):
    """The agent configuration is invalid; the message lists every problem, one per line."""


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttSettings(_Group):
    """How to reach the broker."""

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    tls: bool = False
    ca: Path | None = None
    """CA bundle to verify the broker with; the system store when ``None``."""
    username: str | None = None
    password: SecretStr | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    backoff_base_s: float = Field(default=2.0, gt=1.0, le=10.0)
    """Reconnect delay is ``min(backoff_base_s ** tries, backoff_cap_s)`` plus jitter."""
    backoff_cap_s: float = Field(default=60.0, ge=1.0, le=3600.0)
    ack_timeout_s: float = Field(default=10.0, gt=0.0, le=300.0)
    """How long to wait for a PUBACK before treating the connection as broken."""

    @field_validator("ca")
    @classmethod
    def _ca_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"must be an existing CA file (got {str(value)!r})")
        return value


class BleSettings(_Group):
    enabled: bool = False
    adapter: str = "hci0"
    passive: bool = True
    """Passive scanning where the platform allows (BlueZ advertisement monitors)."""
    min_adverts_per_s: float = Field(default=0.0, ge=0.0)
    """Health: restart the scanner when the advert rate stays below this (0 disables)."""
    health_window_s: float = Field(default=60.0, gt=0.0)
    restart_backoff_cap_s: float = Field(default=300.0, ge=1.0)


class WifiSettings(_Group):
    enabled: bool = False
    iface: str = "wlan1mon"
    channels: tuple[int, ...] = (1, 6, 11)
    hop_interval_s: float = Field(default=0.25, gt=0.0, le=60.0)

    @field_validator("channels")
    @classmethod
    def _channels_valid(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        bad = [c for c in value if not (1 <= c <= 14 or 32 <= c <= 177)]
        if not value or bad:
            raise ValueError(
                f"must be 2.4 GHz (1-14) or 5 GHz (32-177) channels (got {list(value)})"
            )
        return value


class SourcesSettings(_Group):
    ble: BleSettings = BleSettings()
    wifi: WifiSettings = WifiSettings()


class ZoneSettings(_Group):
    """A proximity zone: a device is in it while its smoothed RSSI is at least ``min_rssi_dbm``.

    Zones are tried in the order given; the first match wins (put the nearest first).
    """

    name: str = Field(min_length=1, max_length=64)
    min_rssi_dbm: float = Field(ge=-120.0, le=0.0)


class ThresholdSettings(_Group):
    exit_grace_s: float = Field(default=30.0, gt=0.0)
    """A zone is left after this long without a sighting that places the device in it."""
    visit_gap_s: float = Field(default=900.0, gt=0.0)
    """A visit ends after this long without any sighting (retail practice: 15 min)."""
    min_dwell_s: float = Field(default=120.0, ge=0.0)
    """Visits shorter than this end with ``visit_class = passer_by``."""
    engaged_dwell_s: float = Field(default=900.0, ge=0.0)
    evict_after_s: float = Field(default=960.0, gt=0.0)
    """Forget a device's state this long after its last sighting (bounded memory)."""
    max_devices: int = Field(default=20_000, ge=1)
    """Hard cap on tracked devices; the stalest is evicted first."""
    smoothing_alpha: float = Field(default=0.3, gt=0.0, le=1.0)
    """``proximity`` tracker: weight of a new reading in the smoothed RSSI."""
    tick_interval_s: float = Field(default=5.0, gt=0.0, le=60.0)
    """``kalman`` tracker: how often every device's zone and visit machines are ticked
    (exits are stamped with the time they took effect, so this only delays their sending;
    the sweep is O(tracked devices), the main CPU cost with thousands of devices)."""


class OutboxSettings(_Group):
    path: Path = Path("/var/lib/footfall/outbox.sqlite")
    max_events: int = Field(default=1_000_000, ge=1)
    when_full: Literal["drop_oldest", "drop_newest"] = "drop_oldest"
    """``drop_oldest`` keeps the newest picture; ``drop_newest`` keeps history. Both are counted."""


class StatusSettings(_Group):
    interval_s: float = Field(default=30.0, gt=0.0)
    occupancy_interval_s: float = Field(default=10.0, gt=0.0)
    rssi_summaries: bool = False


class AgentSettings(BaseSettings):
    """Everything one agent needs; see the module docstring for the groups."""

    model_config = SettingsConfigDict(
        env_prefix="FOOTFALL_AGENT_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )
    _toml_file: ClassVar[Path | None] = None

    store_id: str
    agent_id: str
    site_secret: SecretStr
    infrastructure_beacons: dict[str, str] = Field(default_factory=dict)
    """The store's own beacons: beacon id -> name shown in clear (``uuid:major:minor``)."""
    mqtt: MqttSettings = MqttSettings()
    sources: SourcesSettings = SourcesSettings()
    tracker: Literal["kalman", "proximity"] = "kalman"
    """``kalman``: positioning's Kalman bank and strongest-sensor zones (zones from
    ``sensor_zones``); ``proximity``: RSSI thresholds per zone (zones from ``[[zones]]``)."""
    sensor_zones: dict[str, str] = Field(default_factory=dict)
    """Sensor id -> zone for the ``kalman`` tracker; empty: this agent's radio is the
    first ``[[zones]]`` entry."""
    zones: tuple[ZoneSettings, ...] = (ZoneSettings(name="store", min_rssi_dbm=-90.0),)
    fingerprints: Path | None = None
    """A site survey (the file ``footfall zones record`` writes): the ``kalman`` tracker then
    places BLE devices by a kNN over it instead of by the strongest sensor."""
    thresholds: ThresholdSettings = ThresholdSettings()
    outbox: OutboxSettings = OutboxSettings()
    status: StatusSettings = StatusSettings()

    @field_validator("store_id", "agent_id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        if not _ID_PATTERN.fullmatch(value):
            raise ValueError(
                "must be 1-63 lower-case letters, digits, '-' or '_', starting with a letter "
                f"or digit (got {value!r})"
            )
        return value

    @field_validator("fingerprints")
    @classmethod
    def _readable_survey(cls, value: Path | None) -> Path | None:
        if value is not None:
            from edge_agent.technician.zones import load_fingerprints

            load_fingerprints(value)  # FingerprintError (a ValueError) names file and line
        return value

    @field_validator("site_secret")
    @classmethod
    def _real_secret(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if len(raw) < MIN_SECRET_CHARS:
            raise ValueError(f"must be at least {MIN_SECRET_CHARS} characters (got {len(raw)})")
        lowered = raw.lower()
        if any(word in lowered for word in _PLACEHOLDER_WORDS):
            raise ValueError(
                "looks like a placeholder; generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return value

    @field_validator("zones")
    @classmethod
    def _unique_zones(cls, value: tuple[ZoneSettings, ...]) -> tuple[ZoneSettings, ...]:
        names = [z.name for z in value]
        if not names:
            raise ValueError("must list at least one zone (got none)")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"zone names must be unique (got duplicates {dupes})")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls._toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls._toml_file))
        return tuple(sources)

    @property
    def effective_sensor_zones(self) -> dict[str, str]:
        return dict(self.sensor_zones) or {self.agent_id: self.zones[0].name}

    @property
    def topic_root(self) -> str:
        return f"footfall/v1/{self.store_id}/{self.agent_id}"


def _explain(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        got = item.get("input")
        shown = "<hidden>" if "secret" in where or "password" in where else repr(got)
        if item["type"] == "missing":
            lines.append(f"{where}: required (got nothing)")
        elif item["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown setting (got {shown})")
        elif item["type"] == "value_error":  # our validators already say what came
            lines.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
        else:
            lines.append(f"{where}: {item['msg']} (got {shown})")
    return "\n".join(lines)


def load_settings(path: Path | None = None, **overrides: Any) -> AgentSettings:
    """Read ``path`` (TOML) and the environment; :class:`ConfigError` explains every problem."""
    if path is not None and not path.is_file():
        raise ConfigError(f"config: expected a readable TOML file (got {str(path)!r})")
    bound = type("AgentSettingsFromFile", (AgentSettings,), {"_toml_file": path})
    try:
        settings: AgentSettings = bound(**overrides)
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from None
    except ValueError as exc:  # tomllib.TOMLDecodeError is a ValueError: a syntax error with line
        raise ConfigError(f"config: {path}: {exc}") from None
    return settings
