"""The randomized-MAC device-count estimator, on synthetic streams and on real captures."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest

from positioning.devices import (
    DeviceCountConfig,
    DeviceCountConfigError,
    ProbeObservation,
    estimate_devices,
)
from tests.conftest import shared_data


def phone(
    fingerprint: str,
    addresses: list[str],
    burst_times_s: list[float],
    *,
    first_seq: int = 100,
    keep_seq: bool = True,
    rotate_every: int = 1,
    rssi_dbm: float = -60.0,
    randomized: bool = True,
) -> list[ProbeObservation]:
    """A phone sending 3-frame bursts, changing address every ``rotate_every`` bursts."""
    out: list[ProbeObservation] = []
    seq = first_seq
    for i, t in enumerate(burst_times_s):
        address = addresses[(i // rotate_every) % len(addresses)]
        if not keep_seq and i % rotate_every == 0:
            seq = (seq * 7919 + 1237) % 4096  # jump: a fresh counter after the rotation
        for k in range(3):
            out.append(
                ProbeObservation(t + 0.02 * k, address, fingerprint, seq, rssi_dbm, randomized)
            )
            seq = (seq + 1) % 4096
    return out


def test_one_rotating_phone_is_one_device() -> None:
    """Ten addresses of one phone, one per burst, count as one device; naive says ten."""
    obs = phone("fp_a", [f"a{i}" for i in range(10)], [30.0 * i for i in range(10)])
    result = estimate_devices(obs)
    assert (result.devices, result.unique_addresses, result.frames) == (1, 10, 30)
    assert result.clusters[0].seq_links == 9


def test_sequence_numbers_wrap_at_4096() -> None:
    """Continuity holds across the 12-bit wrap (4095 -> 0)."""
    obs = phone("fp_a", ["a0", "a1"], [0.0, 40.0], first_seq=4093)
    assert estimate_devices(obs).clusters[0].seq_links == 1


def test_different_fingerprints_are_different_devices() -> None:
    """Two phones of different models probing at different times are two devices."""
    obs = phone("fp_a", ["a0", "a1"], [0.0, 40.0]) + phone("fp_b", ["b0", "b1"], [10.0, 50.0])
    assert estimate_devices(obs).devices == 2


def test_seq_keeping_family_does_not_link_by_timing() -> None:
    """Where phones keep their counter, a new address without continuity is a new phone."""
    # Four phones of one model, each rotating once with continuity, then an arrival.
    obs: list[ProbeObservation] = []
    for p in range(4):
        obs += phone(
            "fp_a",
            [f"p{p}x", f"p{p}y"],
            [100.0 * p + 10.0 * i for i in range(4)],
            first_seq=1000 * p,
            rotate_every=2,
        )
    obs += phone("fp_a", ["new"], [500.0, 510.0], first_seq=3500)
    result = estimate_devices(obs)
    assert result.devices == 5
    assert sum(c.seq_links for c in result.clusters) == 4


def test_timing_links_where_counters_are_random() -> None:
    """Where phones restart the counter, later bursts of one model join the silent chain."""
    obs = phone("fp_i", [f"i{n}" for n in range(6)], [45.0 * n for n in range(6)], keep_seq=False)
    assert estimate_devices(obs).devices == 1
    # ...unless the chain has been silent for longer than max_link_gap_s.
    late = phone("fp_i", ["late"], [45.0 * 5 + 301.0], keep_seq=False, first_seq=5)
    assert estimate_devices(obs + late).devices == 2


def test_long_lived_addresses_do_not_link_by_timing() -> None:
    """Where addresses last several bursts, a new unlinked address is another phone."""
    first = phone("fp_l", ["l0"], [0.0, 40.0, 80.0], keep_seq=False)
    second = phone("fp_l", ["l1"], [120.0, 160.0, 200.0], keep_seq=False, first_seq=2000)
    assert estimate_devices(first + second).devices == 2


def test_burned_in_addresses_are_devices_of_their_own() -> None:
    """Global (non-randomized) addresses are never merged, even with matching timing."""
    obs = phone("fp_g", ["g0"], [0.0, 30.0], randomized=False)
    obs += phone("fp_g", ["g1"], [60.0, 90.0], randomized=False, first_seq=106)
    assert estimate_devices(obs).devices == 2


def test_a_second_fingerprint_in_the_same_bursts_is_a_shadow() -> None:
    """A small chain that always probes in one bigger chain's bursts is the same phone."""
    bursts = [40.0 * i for i in range(8)]
    main = phone("fp_a", ["a0"], bursts)
    shadow = phone("fp_z", ["z0"], [t + 0.3 for t in bursts[::2]], first_seq=3000)
    assert estimate_devices(main + shadow).devices == 1
    off = DeviceCountConfig(shadow_fraction=2.0)
    assert estimate_devices(main + shadow, off).devices == 2


def test_input_order_does_not_matter() -> None:
    """Shuffled input gives the same clusters (determinism)."""
    obs = phone("fp_a", ["a0", "a1", "a2"], [0.0, 30.0, 60.0]) + phone(
        "fp_b", ["b0", "b1"], [5.0, 35.0], keep_seq=False
    )
    assert estimate_devices(obs) == estimate_devices(list(reversed(obs)))


def test_empty_and_bad_values_are_tolerated() -> None:
    """No input gives zero; out-of-range seq, RSSI and times are ignored, not raised."""
    assert estimate_devices([]).devices == 0
    bad = [
        ProbeObservation(float("nan"), "x", "fp"),
        ProbeObservation(1.0, "y", "fp", seq_num=99999, rssi_dbm=15.0),
    ]
    result = estimate_devices(bad)
    assert (result.devices, result.unique_addresses) == (1, 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"burst_gap_s": -1.0}, "'burst_gap_s' must be a finite number >= 0 (got -1.0)"),
        ({"seq_window": 5000}, "'seq_window' must be in [0, 4095] (got 5000)"),
        ({"rssi_tolerance_db": float("inf")}, "'rssi_tolerance_db' must be None or a finite"),
    ],
)
def test_config_errors_name_the_field(kwargs: dict[str, float], message: str) -> None:
    """A bad estimator setting fails with the field, the expectation and the value."""
    with pytest.raises(DeviceCountConfigError) as info:
        DeviceCountConfig(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)


# --- Real captures: one phone per pcap (Baccichet et al., GPL-3.0, used in place) ----------

_CONTENT_IDS = frozenset({1, 45, 50, 107, 127, 191, 221})
WINDOW_S = 900.0


def _load(path: Path) -> list[ProbeObservation]:
    from scapy.layers.dot11 import Dot11, Dot11Elt
    from scapy.utils import PcapReader

    rows: list[ProbeObservation] = []
    with PcapReader(str(path)) as reader:
        for pkt in reader:
            dot11 = pkt.getlayer(Dot11)
            if dot11 is None:
                continue
            parts: list[bytes] = []
            elt = pkt.getlayer(Dot11Elt)
            while isinstance(elt, Dot11Elt):
                if elt.ID not in (0, 3):  # SSID and channel are not the phone's
                    body = bytes(elt.info) if elt.ID in _CONTENT_IDS else b""
                    parts.append(bytes([elt.ID, len(body) & 0xFF]) + body)
                elt = elt.payload if isinstance(elt.payload, Dot11Elt) else None
            rssi = getattr(pkt, "dBm_AntSignal", None)
            rows.append(
                ProbeObservation(
                    float(pkt.time),
                    hashlib.sha256(str(dot11.addr2).encode()).hexdigest()[:16],
                    hashlib.sha256(b"".join(parts)).hexdigest()[:12],
                    int(dot11.SC) >> 4,
                    None if rssi is None else float(rssi),
                )
            )
    t0 = min(o.ts_s for o in rows)
    # Aligned to start together and cut to one window, so merged files are one scene.
    return [
        ProbeObservation(o.ts_s - t0, o.address_key, o.fingerprint, o.seq_num, o.rssi_dbm)
        for o in rows
        if o.ts_s - t0 < WINDOW_S
    ]


@pytest.fixture(scope="module")
def captures() -> dict[str, list[ProbeObservation]]:
    folder = shared_data("wifi-probe-devices-baccichet", "PCAP")
    return {p.name.split("_")[0]: _load(p) for p in sorted(folder.glob("*.pcap"))}


def test_each_real_phone_counts_as_at_most_three(
    captures: dict[str, list[ProbeObservation]],
) -> None:
    """Alone, each of the 11 phones (up to 465 addresses) is estimated as 1 to 3 devices."""
    estimates = {name: estimate_devices(obs) for name, obs in captures.items()}
    assert len(estimates) == 11
    assert all(1 <= r.devices <= 3 for r in estimates.values()), estimates
    assert sum(r.devices for r in estimates.values()) <= 16
    assert sum(r.unique_addresses for r in estimates.values()) > 800


def test_merged_real_scenes_beat_the_naive_count(
    captures: dict[str, list[ProbeObservation]],
) -> None:
    """Scenes of 3 phones: mean error under 50 % (naive over 20x); all 11 phones: within 3."""
    names = sorted(captures)
    errors: list[float] = []
    naive: list[float] = []
    for combo in itertools.islice(itertools.combinations(names, 3), 0, 165, 5):
        result = estimate_devices([o for name in combo for o in captures[name]])
        errors.append(abs(result.devices - 3) / 3)
        naive.append(result.unique_addresses / 3)
    assert sum(errors) / len(errors) < 0.5
    assert sum(naive) / len(naive) > 20
    everyone = estimate_devices([o for name in names for o in captures[name]])
    assert abs(everyone.devices - 11) <= 3
    assert everyone.unique_addresses > 800
