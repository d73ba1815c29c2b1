"""Gateway settings from the environment (``FOOTFALL_GATEWAY_*``) or a ``.env`` file.

Built by entrypoints only (never at import time); everything below the CLI takes
a :class:`GatewaySettings` (or the plain values it needs) as an argument.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///footfall.db"


class GatewaySettings(BaseSettings):
    """Every knob of the gateway; ``FOOTFALL_GATEWAY_<NAME>`` sets ``<name>``."""

    model_config = SettingsConfigDict(
        env_prefix="FOOTFALL_GATEWAY_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = DEFAULT_DATABASE_URL
    """SQLAlchemy URL: ``sqlite:///path.db`` (embedded) or ``postgresql+psycopg://...``."""

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_tls: bool = False
    mqtt_ca_file: Path | None = None
    mqtt_protocol: Literal["5", "3.1.1"] = "5"
    """MQTT 5 (shared subscriptions, receive maximum); 3.1.1 for brokers such as amqtt."""
    mqtt_client_id: str = "footfall-gateway"
    """Also the persistent-session name: two gateways must not share it."""
    mqtt_session_expiry_s: int = Field(default=7 * 24 * 3600, ge=0)
    """How long the broker keeps our session (and queues QoS 1 events) while we are away."""
    mqtt_receive_maximum: int = Field(default=2000, ge=1, le=65535)
    """QoS 1 messages the broker may have in flight to us, unacknowledged (MQTT 5)."""
    topic_root: str = "footfall/v1"
    shared_group: str | None = None
    """Join ``$share/<group>/...`` so gateways split the stream; ``None``: subscribe alone."""

    batch_max_events: int = Field(default=5000, ge=1)
    """Commit once this many events are waiting..."""
    batch_max_wait_s: float = Field(default=0.25, gt=0)
    """...or once the oldest waiting message is this old."""
    max_payload_bytes: int = Field(default=256 * 1024, ge=1024)
    dead_letter_copy_bytes: int = Field(default=4096, ge=0)
    """How much of a rejected payload the dead-letter table keeps."""

    retention_days: float = Field(default=90.0, gt=0)
    """Raw presence events older than this are purged; visits and aggregates are kept."""
    retention_batch_rows: int = Field(default=10_000, ge=1)

    visit_gap_s: float = Field(default=900.0, gt=0)
    """Two stays of one device in one store closer than this are one visit."""
    min_visit_dwell_s: float = Field(default=120.0, ge=0)
    """Shorter store visits are passers-by (counted apart, never attributed)."""
    engaged_dwell_s: float = Field(default=900.0, ge=0)
    """Visits at least this long, or through at least ``engaged_zones`` zones, are engaged."""
    engaged_zones: int = Field(default=3, ge=1)
    visits_every_s: float = Field(default=5.0, gt=0)
    """How often the ingest loop folds new events into store visits."""

    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    """Serve Prometheus text on ``http://host:port/metrics``; ``None``: off."""

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                f"'database_url' must be a sqlite:// or postgresql:// URL (got {value!r})"
            )
        return value

    @field_validator("mqtt_password")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value() in {"changeme", "change-me", "password"}:
            raise ValueError("'mqtt_password' is a placeholder; set the real broker password")
        return value
