"""person_key: the SHA-256 hex of a normalised e-mail, phone or loyalty id.

Raw e-mails and phones are normalised and hashed the moment they are read and never
kept. The normal forms are those ad platforms use for customer-match uploads, so keys
from an ad export and from a loyalty app meet:

- e-mail: trimmed, lower-cased (``" Ann@Example.COM "`` -> ``ann@example.com``);
- phone: E.164 (``+`` country code and subscriber number, digits only, 8-15 digits):
  spaces, dots, dashes, slashes and parentheses are removed; a leading ``+`` or ``00``
  means the number is already international; otherwise a single leading trunk ``0`` is
  dropped and the *default country code* is put in front. Without a default country
  code a national number is refused, because guessing the country would link strangers;
- loyalty id: trimmed, kept as it is;
- a value that is already 64 hex characters is taken as a person_key (lower-cased).

No external phone library is used: numbering-plan validity per country is not checked,
only the E.164 shape.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum

from campaigns.model import CampaignError

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_CHARS = re.compile(r"^\+?[0-9 ().\-/]+$")
_PHONE_SEPARATORS = re.compile(r"[ ().\-/]")
_COUNTRY_CODE = re.compile(r"^[1-9][0-9]{0,2}$")


class IdentifierKind(StrEnum):
    """What a raw identifier was recognised as."""

    PERSON_KEY = "person_key"
    EMAIL = "email"
    PHONE = "phone"
    LOYALTY_ID = "loyalty_id"


class IdentifierError(CampaignError):
    """An identifier that cannot be normalised; the message never contains the raw value."""


def normalize_email(raw: str) -> str:
    """Trim and lower-case; refuse values that are not shaped like an e-mail address."""
    value = raw.strip().lower()
    if not _EMAIL.match(value):
        raise IdentifierError("'email' must look like name@domain.tld (got a malformed address)")
    return value


def normalize_phone(raw: str, default_country_code: str | None = None) -> str:
    """E.164 form ``+<digits>``; see the module docstring for the rules."""
    value = raw.strip()
    if not _PHONE_CHARS.match(value):
        raise IdentifierError(
            "'phone' must contain only digits, spaces, + ( ) . - / (got other characters)"
        )
    digits = _PHONE_SEPARATORS.sub("", value)
    if digits.startswith("+"):
        number = digits[1:]
    elif digits.startswith("00"):
        number = digits[2:]
    else:
        if default_country_code is None:
            raise IdentifierError(
                "'phone' is a national number and no default country code is set "
                "(use +<country code> or set --default-country-code)"
            )
        cc = default_country_code.lstrip("+")
        if not _COUNTRY_CODE.match(cc):
            raise IdentifierError(
                f"'default_country_code' must be 1-3 digits not starting with 0 (got {cc!r})"
            )
        national = digits[1:] if digits.startswith("0") else digits
        number = cc + national
    if "+" in number or not number.isdigit() or number.startswith("0"):
        raise IdentifierError(
            "'phone' must be + then digits, country code first (got a malformed number)"
        )
    if not 8 <= len(number) <= 15:
        raise IdentifierError(f"'phone' must have 8-15 digits in E.164 (got {len(number)})")
    return "+" + number


def sha256_hex(normalised: str) -> str:
    """SHA-256 of the UTF-8 bytes, lower-case hex."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def classify_identifier(raw: str) -> IdentifierKind:
    """Recognise what a raw identifier is (hash, e-mail, phone, loyalty id)."""
    value = raw.strip()
    if _HEX64.match(value):
        return IdentifierKind.PERSON_KEY
    if "@" in value:
        return IdentifierKind.EMAIL
    if _PHONE_CHARS.match(value) and sum(ch.isdigit() for ch in value) >= 6:
        return IdentifierKind.PHONE
    return IdentifierKind.LOYALTY_ID


def person_key(
    raw: str,
    kind: IdentifierKind | None = None,
    default_country_code: str | None = None,
) -> str:
    """The person_key of a raw identifier (or the key itself when already hashed)."""
    value = raw.strip()
    if not value:
        raise IdentifierError("'person' must not be blank")
    kind = kind or classify_identifier(value)
    if kind is IdentifierKind.PERSON_KEY:
        if not _HEX64.match(value):
            raise IdentifierError(
                f"'person_key' must be 64 hex characters (got {len(value)} characters)"
            )
        return value.lower()
    if kind is IdentifierKind.EMAIL:
        return sha256_hex(normalize_email(value))
    if kind is IdentifierKind.PHONE:
        return sha256_hex(normalize_phone(value, default_country_code))
    return sha256_hex(value)
