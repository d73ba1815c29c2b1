"""Provisioning values: Mosquitto's password format, ids that are safe topic levels."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from edge_agent.provisioning import mosquitto_password_line, provision_agent, validate_id


def test_password_line_matches_mosquitto_passwd_format() -> None:
    """The line has Mosquitto 2's $7$ PBKDF2-SHA512 shape with 101 rounds."""
    line = mosquitto_password_line("agent-x", "pw", b"0123456789ab")
    user, rest = line.split(":", 1)
    parts = rest.split("$")
    assert user == "agent-x"
    assert parts[1:3] == ["7", "101"]
    assert parts[3] == "MDEyMzQ1Njc4OWFi"  # base64 of the salt


def test_mosquitto_passwd_accepts_our_file(tmp_path: Path) -> None:
    """mosquitto_passwd parses our file and keeps our line when it adds another user."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd is not installed")
    creds = provision_agent("s1", "a1", password_bytes=b"x" * 16, salt=b"y" * 12)
    path = tmp_path / "passwd"
    path.write_text(creds.password_line + "\n")
    subprocess.run([tool, "-b", str(path), "other", "pw"], check=True, capture_output=True)
    assert creds.password_line in path.read_text().splitlines()


@pytest.mark.parametrize("bad", ["", "Store", "a/b", "a+b", "a#", "x" * 64, "-lead"])
def test_unsafe_ids_are_refused_with_the_field_named(bad: str) -> None:
    """Ids that would break a topic level or a file name are refused, naming the field."""
    with pytest.raises(ValueError, match="'agent_id' must be"):
        validate_id("agent_id", bad)


def test_short_password_material_is_refused() -> None:
    """Fewer than 16 random bytes is refused."""
    with pytest.raises(ValueError, match="'password_bytes' must be >= 16 bytes"):
        provision_agent("s1", "a1", password_bytes=b"x" * 8, salt=b"y" * 12)
