"""HTTP API and dashboard settings from the environment (``FOOTFALL_API_*``) or ``.env``.

Built by the entrypoint (``footfall gateway serve``) or by a test; nothing reads the
environment at import time.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from campaigns.reports import DEFAULT_K


class ApiSettings(BaseSettings):
    """Every knob of the HTTP side; ``FOOTFALL_API_<NAME>`` sets ``<name>``."""

    model_config = SettingsConfigDict(
        env_prefix="FOOTFALL_API_", env_file=".env", extra="ignore", frozen=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    k_min: int = Field(default=DEFAULT_K, ge=1)
    """The smallest k any response may use: a request may raise k, never lower it below this."""
    privacy_horizon_days: float = Field(default=30.0, gt=0, le=366)
    """A visitor is *repeat* when the same device visited the store within this many days."""
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    """Larger request bodies are refused with 413 (file uploads included)."""
    cors_origins: tuple[str, ...] = ()
    """Origins allowed to call the API from a browser; empty: CORS closed."""
    session_secret: SecretStr | None = None
    """Signs dashboard session cookies; ``None``: a random secret per process."""
    session_max_age_s: int = Field(default=8 * 3600, ge=60)
    secure_cookies: bool = False
    """Set ``Secure`` on the session cookie (turn on behind HTTPS)."""
    agent_offline_after_s: float = Field(default=120.0, gt=0)
    """An agent not heard from for this long is shown offline even if its status says online."""
    occupancy_max_age_s: float = Field(default=60.0, gt=0)
    """Occupancy samples older than this do not count as "now"."""
    sse_interval_s: float = Field(default=5.0, gt=0)
    """How often the live occupancy stream sends an update."""
    push_config: bool = True
    """Publish zone changes to the agents' retained ``config`` topics."""
    homeassistant_discovery: bool = False
    """Announce each zone's occupancy as a Home Assistant MQTT sensor."""
    homeassistant_prefix: str = "homeassistant"
    homeassistant_every_s: float = Field(default=10.0, gt=0)

    @field_validator("session_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("'session_secret' must be at least 32 characters (got fewer)")
        return value
