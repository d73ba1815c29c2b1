"""`footfall decode` run as a real process on real captures, checked against a plain scapy loop."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_DATA, shared_data

FOOTFALL = Path(sys.executable).with_name("footfall")
SECRET = "integration-site-secret-0123456789"


def _run(*args: str, secret: str | None = SECRET) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "FOOTFALL_SITE_SECRET"}
    if secret is not None:
        env["FOOTFALL_SITE_SECRET"] = secret
    return subprocess.run(
        [str(FOOTFALL), "decode", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _summary(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    summary: dict[str, object] = json.loads(result.stderr.strip().splitlines()[-1])
    return summary


@functools.cache
def _scapy_reading(path: Path) -> tuple[int, list[str]]:
    """Independent oracle, a plain scapy loop: frames, and transmitters of the probe requests."""
    from scapy.layers.dot11 import Dot11, Dot11ProbeReq
    from scapy.utils import PcapReader

    frames = 0
    macs: list[str] = []
    with PcapReader(str(path)) as reader:
        for packet in reader:
            frames += 1
            if packet.haslayer(Dot11ProbeReq):
                macs.append(packet[Dot11].addr2)
    return frames, macs


def _mac_forms(mac: str) -> set[str]:
    digits = mac.replace(":", "").lower()
    pairs = [digits[i : i + 2] for i in range(0, 12, 2)]
    forms = {":".join(pairs), "-".join(pairs), digits, f"{digits[:4]}.{digits[4:8]}.{digits[8:]}"}
    return forms | {form.upper() for form in forms}


def _captures() -> list[Path]:
    vigo = shared_data("wifi-probe-macrand-vigo", "WiresharkCaptures")
    baccichet = shared_data("wifi-probe-devices-baccichet", "PCAP")
    return [
        vigo / "Samsung" / "04_SamsungA53_01.pcapng",  # mixed: beacons, data, ACKs, probes
        baccichet / "S21Ultra-M_anonymized.pcap",  # contains a +15 dBm reading
        vigo / "iPad" / "Filtered" / "06_iPadApple_01_filtered.pcapng",
    ]


@pytest.mark.parametrize("index", range(3))
def test_decode_counts_match_an_independent_scapy_loop(index: int) -> None:
    """Lines printed and the summary equal scapy's count of frames and probe requests."""
    path = _captures()[index]
    frames, macs = _scapy_reading(path)
    result = _run(str(path), "--json-summary")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(macs)
    summary = _summary(result)
    assert summary["frames_read"] == frames
    assert summary["decoded"] == len(macs)
    assert summary["skipped"] == frames - len(macs)
    assert all(line["signal"] == "wifi" and line["device_key"].startswith("dk1_") for line in lines)


def _scapy_header_count(path: Path) -> tuple[int, int]:
    """A faster scapy oracle: scapy's raw reader, and its Dot11 layer on the 24-byte header."""
    from scapy.layers.dot11 import Dot11
    from scapy.utils import RawPcapReader

    frames = probes = 0
    with RawPcapReader(str(path)) as reader:
        for raw, _meta in reader:
            frames += 1
            radiotap_len = int.from_bytes(raw[2:4], "little")
            header = Dot11(raw[radiotap_len : radiotap_len + 24])
            probes += header.type == 0 and header.subtype == 4
    return frames, probes


@pytest.mark.slow
def test_decode_counts_on_every_public_capture() -> None:
    """All 36 public captures: decode's frame and probe counts equal scapy's, file by file."""
    vigo = shared_data("wifi-probe-macrand-vigo", "WiresharkCaptures")
    baccichet = shared_data("wifi-probe-devices-baccichet", "PCAP")
    paths = sorted(baccichet.glob("*.pcap")) + sorted(vigo.rglob("*.pcapng"))
    assert len(paths) == 36
    for path in paths:
        frames, probes = _scapy_header_count(path)
        summary = _summary(_run(str(path), "--json-summary"))
        assert (summary["frames_read"], summary["decoded"]) == (frames, probes), path.name


def test_show_raw_prints_the_same_macs_as_scapy_in_order() -> None:
    """With --show-raw each line's MAC is the transmitter scapy reads, in capture order."""
    path = shared_data("wifi-probe-devices-baccichet", "PCAP", "S21Ultra-M_anonymized.pcap")
    _, macs = _scapy_reading(path)
    result = _run(str(path), "--show-raw")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["mac"] for line in result.stdout.splitlines()] == macs


def test_output_without_show_raw_holds_no_mac_or_ssid() -> None:
    """No MAC (any spelling) and no SSID of a real capture appears in decode's output."""
    path = shared_data(
        "wifi-probe-macrand-vigo", "WiresharkCaptures", "Samsung", "04_SamsungA53_01.pcapng"
    )
    # The raw values come from --show-raw, whose MACs the test above checks against scapy.
    raw = [json.loads(line) for line in _run(str(path), "--show-raw").stdout.splitlines()]
    macs = {line["mac"] for line in raw}
    ssids = {line["ssid"] for line in raw if line["ssid"] and len(line["ssid"]) >= 6}
    assert len(macs) == 95
    result = _run(str(path), "--show-skipped")
    assert result.returncode == 0, result.stderr
    text = result.stdout + result.stderr
    assert len(result.stdout.splitlines()) == 8497  # probes and skipped frames were printed
    assert not {form for mac in macs for form in _mac_forms(mac) if form in text}
    assert not {ssid for ssid in ssids if ssid in text}


def test_keys_are_stable_with_a_secret_and_random_without() -> None:
    """The same secret gives the same keys in two runs; no secret gives a note and new keys."""
    path = str(TEST_DATA / "wifi" / "handmade_radiotap.pcap")
    first, second = _run(path), _run(path)
    assert first.stdout == second.stdout
    unkeyed_one, unkeyed_two = _run(path, secret=None), _run(path, secret=None)
    assert "random secret" in unkeyed_one.stderr
    assert unkeyed_one.stdout != unkeyed_two.stdout
    text_summary = first.stderr.strip().splitlines()[-1]
    assert text_summary.startswith("frames read: 10, decoded: 5, skipped: 5 (bad_fcs: 1")
    assert text_summary.endswith("without RSSI: 1")


def test_caller_errors_exit_2_with_one_line() -> None:
    """A missing file, a short secret and a non-capture each exit 2 with one error line."""
    missing = _run("/nonexistent/capture.pcap")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == ["error: /nonexistent/capture.pcap: no such file"]
    short = _run(str(TEST_DATA / "wifi" / "handmade_radiotap.pcap"), secret="short")
    assert short.returncode == 2
    assert "--site-secret must be at least 16 bytes (got 5)" in short.stderr
    wrong = _run(str(TEST_DATA / "wifi" / "README.md"))
    assert wrong.returncode == 2
    assert "not a pcap or pcapng file" in wrong.stderr
    assert "--jsonl" in wrong.stderr


IBEACON_HEX = "0215" + "e2c56db5dffb48d2b060d0f5a71096e0" + "0001" + "0002" + "c5"


def test_ble_jsonl_beacons_become_keyed_observations(tmp_path: Path) -> None:
    """BLE JSONL: beacons print keyed, other adverts and bad lines are counted by reason."""
    lines = [
        {
            "ts": "2026-11-23T10:15:02.120Z",
            "sensor_id": "entrance-a",
            "address": "C4:7C:8D:6A:1B:2F",
            "rssi": -67,
            "manufacturer_data": {"76": IBEACON_HEX},
        },
        {
            "ts": "2026-11-23T10:15:03.000Z",
            "sensor_id": "entrance-a",
            "address": "5A:11:22:33:44:55",
            "rssi": -80,
            "manufacturer_data": {"6": "0109"},
        },
    ]
    path = tmp_path / "ble.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    result = _run(str(path), "--jsonl", "--json-summary")
    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(text) for text in result.stdout.splitlines()]
    assert line["signal"] == "ble"
    assert line["id_class"] == "personal_beacon"
    assert line["device_key"].startswith("dk1_")
    assert (line["rssi_dbm"], line["tx_power_1m_dbm"]) == (-67.0, -59.0)
    assert line["sensor_id"] == "entrance-a"
    assert line["ts"] == "2026-11-23T10:15:02.120Z"
    assert "C4:7C" not in result.stdout.upper()
    assert "e2c56db5" not in result.stdout
    summary = _summary(result)
    assert summary["frames_read"] == 3
    assert summary["decoded"] == 1
    assert summary["skipped_by_reason"] == {"invalid_json": 1, "not_a_beacon": 1}
    raw = _run(str(path), "--jsonl", "--show-raw")
    assert json.loads(raw.stdout.splitlines()[0])["address"] == "C4:7C:8D:6A:1B:2F"
