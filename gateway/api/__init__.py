"""The gateway's HTTP API: ``create_app`` builds it (nothing at import time)."""

from gateway.api.app import create_app
from gateway.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
