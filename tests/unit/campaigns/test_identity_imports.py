"""Identifier normalisation, hashing and line-numbered import errors."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from campaigns.identity import (
    IdentifierError,
    IdentifierKind,
    classify_identifier,
    normalize_email,
    normalize_phone,
    person_key,
)
from campaigns.imports import (
    ExposureRowError,
    FileFormat,
    exposure_from_mapping,
    parse_exposures,
    parse_links,
)
from campaigns.model import ExposureKind, Group

ANN = hashlib.sha256(b"ann@example.com").hexdigest()


def test_email_is_trimmed_lowercased_and_hashed() -> None:
    """' Ann@Example.COM ' hashes as 'ann@example.com'."""
    assert normalize_email(" Ann@Example.COM ") == "ann@example.com"
    assert person_key(" Ann@Example.COM ") == ANN


@pytest.mark.parametrize(
    ("raw", "cc", "expected"),
    [
        ("+48 600-123-456", None, "+48600123456"),
        ("0048 600 123 456", None, "+48600123456"),
        ("600 123 456", "48", "+48600123456"),
        ("(020) 7946 0958", "44", "+442079460958"),
        ("+1 (415) 555-2671", None, "+14155552671"),
    ],
)
def test_phone_normalises_to_e164(raw: str, cc: str | None, expected: str) -> None:
    """Separators go, 00 means international, a trunk 0 is replaced by the country code."""
    assert normalize_phone(raw, cc) == expected


def test_national_phone_without_country_code_is_refused() -> None:
    """No default country code: a national number is an error, never a guess."""
    with pytest.raises(IdentifierError, match="default country code"):
        normalize_phone("600 123 456")


def test_already_hashed_key_is_kept() -> None:
    """A 64-hex value is recognised as a person_key and only lower-cased."""
    assert classify_identifier(ANN.upper()) is IdentifierKind.PERSON_KEY
    assert person_key(ANN.upper()) == ANN


def test_error_messages_never_contain_the_identifier() -> None:
    """A bad e-mail's message does not echo the raw value."""
    with pytest.raises(IdentifierError) as info:
        normalize_email("secret-person@nowhere")
    assert "secret-person" not in str(info.value)


CSV_GOOD = """person,ts,kind,channel,creative,group
 Ann@Example.com ,2026-11-02T09:15:00+01:00,click,social,c1,exposed
+48600123456,2026-11-02T10:00:00Z,view,search,,control
ann@example.com,2026-11-02T09:15:00+01:00,click,social,c1,exposed
"""


def test_csv_rows_are_hashed_converted_to_utc_and_deduplicated() -> None:
    """Good CSV: UTC times, 'view' is an impression, the repeated row is kept once."""
    r = parse_exposures(CSV_GOOD, FileFormat.CSV, "c-1")
    assert r.ok
    assert r.duplicates == 1
    assert len(r.rows) == 2
    first = r.rows[0]
    assert first.person_key == ANN
    assert first.ts == datetime(2026, 11, 2, 8, 15, tzinfo=UTC)
    assert r.rows[1].kind is ExposureKind.IMPRESSION
    assert r.rows[1].group is Group.CONTROL


def test_every_bad_csv_line_is_reported_with_its_number() -> None:
    """Each bad row is reported by its line number and field; good rows are still parsed."""
    text = (
        "person,ts,kind,channel,creative,group\n"
        "ann@example.com,2026-11-02T09:15:00,click,social,c1,exposed\n"  # line 2: naive ts
        "ann@example.com,2026-11-02T09:15:00Z,poke,social,c1,exposed\n"  # line 3: bad kind
        "ann@example.com,2026-11-02T09:15:00Z,click,social,c1,exposed\n"  # line 4: good
        ",2026-11-02T09:15:00Z,click,social,c1,exposed\n"  # line 5: no person
        "ann@example.com,2026-11-02T09:15:00Z,click,social,c1,treated\n"  # line 6: bad group
        "abc,2026-11-02T09:15:00Z,click,,c1,exposed\n"  # line 7: no channel
    )
    r = parse_exposures(text, FileFormat.CSV, "c-1")
    assert [(e.line, e.field) for e in r.errors] == [
        (2, "ts"),
        (3, "kind"),
        (5, "person"),
        (6, "group"),
        (7, "channel"),
    ]
    assert len(r.rows) == 1
    assert "zone" in r.errors[0].reason


def test_jsonl_errors_carry_line_numbers() -> None:
    """JSON lines: broken JSON and a non-object are errors on their own lines."""
    text = (
        f'{{"person_key": "{ANN}", "ts": "2026-11-02T09:15:00Z", "kind": "impression",'
        ' "channel": "tv", "group": "exposed"}\n'
        "\n"
        "{not json\n"
        "[1, 2]\n"
        '{"person_key": "abc", "ts": "2026-11-02T09:15:00Z", "kind": "click",'
        ' "channel": "tv", "group": "exposed"}\n'
    )
    r = parse_exposures(text, FileFormat.JSONL, "c-1")
    assert [(e.line, e.field) for e in r.errors] == [(3, "row"), (4, "row"), (5, "person_key")]
    assert len(r.rows) == 1


def test_streaming_event_validates_like_a_file_row() -> None:
    """A server-to-server event is validated by the same rules and names the field."""
    e = exposure_from_mapping(
        {
            "person": "ann@example.com",
            "ts": "2026-11-02T09:15:00Z",
            "kind": "click",
            "channel": "social",
            "group": "exposed",
        },
        "c-1",
    )
    assert e.person_key == ANN
    with pytest.raises(ExposureRowError, match="'kind'"):
        exposure_from_mapping(
            {
                "person": "ann@example.com",
                "ts": "2026-11-02T09:15:00Z",
                "kind": "x",
                "channel": "s",
                "group": "exposed",
            },
            "c-1",
        )


def test_links_parse_with_validity() -> None:
    """Links default valid_from to the consent time and refuse valid_to before it."""
    text = (
        "device_key,person,source,consented_at,valid_to\n"
        "dk1_a,ann@example.com,app,2026-11-01T00:00:00Z,\n"
        "dk1_b,ann@example.com,wifi_login,2026-11-01T00:00:00Z,2026-10-01T00:00:00Z\n"
        "dk1_c,ann@example.com,facebook,2026-11-01T00:00:00Z,\n"
    )
    r = parse_links(text, FileFormat.CSV)
    assert [(e.line, e.field) for e in r.errors] == [(3, "row"), (4, "source")]
    assert r.rows[0].valid_from == r.rows[0].consented_at
    assert r.rows[0].active_at(datetime(2026, 11, 5, tzinfo=UTC))


def test_person_key_column_is_never_rehashed() -> None:
    """A 64-character non-hex person_key is an error, not silently hashed as a loyalty id."""
    text = (
        "person_key,ts,kind,channel,group\n" + "z" * 64 + ",2026-11-02T09:15:00Z,click,tv,exposed\n"
    )
    r = parse_exposures(text, FileFormat.CSV, "c-1")
    assert [(e.line, e.field) for e in r.errors] == [(2, "person_key")]
