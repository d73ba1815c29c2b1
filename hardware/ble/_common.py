"""What every decoder shares: the typed rejection and the reasons for it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RejectReason(StrEnum):
    """Why bytes that claimed to be a beacon frame were not decoded (callers count by this)."""

    TRUNCATED = "truncated"
    """Shorter than the format's fixed (or minimum) length."""
    BAD_LENGTH = "bad_length"
    """Longer than the format allows, or a length the format does not define."""
    UNKNOWN_FRAME_TYPE = "unknown_frame_type"
    """An Eddystone frame type byte this decoder does not know (e.g. reserved 0x40)."""
    UNKNOWN_VERSION = "unknown_version"
    """An Eddystone-TLM version other than 0x00 (plain) or 0x01 (encrypted)."""
    BAD_URL_SCHEME = "bad_url_scheme"
    """An Eddystone-URL scheme prefix byte above 0x03."""
    BAD_URL_CHARACTER = "bad_url_character"
    """An Eddystone-URL byte in a reserved range (0x0e-0x20, 0x7f-0xff)."""
    INVALID_INPUT = "invalid_input"
    """The caller's fields had the wrong type (not bytes, company id out of 0..0xFFFF, ...)."""
    MALFORMED_AD = "malformed_ad"
    """Raw AD structures whose length bytes run past the end of the data."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """Bytes that looked like (or claimed to be) a frame of ``frame`` but could not be decoded."""

    reason: RejectReason
    frame: str
    """The format that was tried: ``"ibeacon"``, ``"altbeacon"``, ``"eddystone"``, ...

    ``"eddystone-uid"`` etc. once the Eddystone frame type is known."""
    detail: str
    """Human-readable: what was expected and what came (never the raw identifier bytes)."""
