"""Probe-request decoding from hand-built frames, scapy packets and real captures."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from hardware import ProbeRequest, WifiRejection, WifiRejectReason, decode_probe_request
from hardware.capture import iter_capture, iter_probe_requests
from hardware.wifi import channel_from_freq, decode_frame, freq_from_channel
from tests.conftest import TEST_DATA, shared_data

RADIOTAP = TEST_DATA / "wifi" / "handmade_radiotap.pcap"
DOT11 = TEST_DATA / "wifi" / "handmade_dot11.pcapng"
TS_S = 1_763_894_400


def _handmade() -> list[ProbeRequest | WifiRejection]:
    return list(iter_probe_requests(RADIOTAP))


def _probe(index: int) -> ProbeRequest:
    result = _handmade()[index]
    assert isinstance(result, ProbeRequest), result
    return result


def _header(sa: bytes, seq_num: int) -> bytes:
    return b"\x40\x00\x00\x00" + b"\xff" * 6 + sa + b"\xff" * 6 + struct.pack("<H", seq_num << 4)


def test_wildcard_probe_with_fcs_decodes_every_field() -> None:
    """A radiotap probe request with an FCS gives MAC, RSSI, channel, sequence and no SSID."""
    probe = _probe(0)
    assert probe.ts_s == TS_S + 0.5
    assert probe.mac == "00:1a:2b:3c:4d:5e"
    assert probe.rssi_dbm == -57
    assert (probe.channel, probe.freq_mhz) == (6, 2437)
    assert probe.ssid is None
    assert probe.wildcard
    assert probe.seq_num == 100
    assert probe.randomized is False
    assert probe.ie_ids == (0, 1, 50, 3, 45, 127, 221)
    assert len(probe.ie_fingerprint) == 16
    int(probe.ie_fingerprint, 16)


def test_directed_probe_from_randomized_mac() -> None:
    """A directed probe keeps its SSID, flags the locally administered MAC, reads seq 4095."""
    probe = _probe(1)
    assert probe.mac == "da:a1:19:22:33:44"
    assert probe.ssid == "CoffeeShop"
    assert not probe.wildcard
    assert probe.randomized is True
    assert probe.seq_num == 4095
    assert (probe.rssi_dbm, probe.channel, probe.freq_mhz) == (-71, 1, 2412)


def test_probe_without_radiotap_signal_keeps_none_and_channel_from_dsss() -> None:
    """No dBm field gives rssi None; no radiotap channel falls back to the DSSS element."""
    probe = _probe(2)
    assert probe.rssi_dbm is None
    assert (probe.channel, probe.freq_mhz) == (11, 2462)


def test_fingerprint_ignores_mac_ssid_channel_and_fcs() -> None:
    """The same elements from another MAC, SSID, channel and FCS setting hash the same."""
    assert _probe(0).ie_fingerprint == _probe(1).ie_fingerprint == _probe(3).ie_fingerprint
    assert _probe(2).ie_fingerprint != _probe(0).ie_fingerprint


def test_rejections_carry_their_reason() -> None:
    """Beacon, truncated, overrunning element, bad-FCS flag and bad radiotap are each named."""
    reasons = {
        index: result.reason
        for index, result in enumerate(_handmade())
        if isinstance(result, WifiRejection)
    }
    assert reasons == {
        4: WifiRejectReason.NOT_PROBE_REQUEST,
        5: WifiRejectReason.TRUNCATED,
        6: WifiRejectReason.MALFORMED_IES,
        7: WifiRejectReason.BAD_FCS,
        9: WifiRejectReason.BAD_RADIOTAP,
    }


def test_extended_radiotap_takes_the_combined_signal() -> None:
    """With two present words the first (combined) dBm signal wins, after an aligned TSFT."""
    probe = _probe(8)
    assert probe.rssi_dbm == -44
    assert (probe.channel, probe.freq_mhz) == (36, 5180)
    assert probe.ie_ids == (0, 1, 221)


def test_fingerprint_ignores_wps_uuid_but_not_capabilities() -> None:
    """Changing a WPS UUID keeps the fingerprint; changing the HT capabilities changes it."""
    records = list(iter_capture(RADIOTAP))
    with_wps = records[8].frame
    base = decode_frame(with_wps, linktype=127, ts_s=0.0)
    rt_len = struct.unpack_from("<H", with_wps, 2)[0]
    body = with_wps[rt_len:-4].replace(bytes(range(16)), bytes(range(100, 116)))
    other_uuid = with_wps[:rt_len] + body + struct.pack("<I", zlib.crc32(body))
    swapped = decode_frame(other_uuid, linktype=127, ts_s=0.0)
    assert isinstance(base, ProbeRequest)
    assert isinstance(swapped, ProbeRequest)
    assert swapped.ie_fingerprint == base.ie_fingerprint

    plain = records[1].frame  # no FCS: the bytes can be edited in place
    ht_before, ht_after = bytes.fromhex("2d1a2d001b"), bytes.fromhex("2d1a6f011b")
    assert ht_before in plain
    original = decode_frame(plain, linktype=127, ts_s=0.0)
    changed = decode_frame(plain.replace(ht_before, ht_after), linktype=127, ts_s=0.0)
    assert isinstance(original, ProbeRequest)
    assert isinstance(changed, ProbeRequest)
    assert changed.ie_fingerprint != original.ie_fingerprint


def test_bare_dot11_with_and_without_fcs() -> None:
    """Link type 105 frames decode with or without a trailing FCS; an ACK is not a probe."""
    results = list(iter_probe_requests(DOT11))
    first, second, ack = results
    assert isinstance(first, ProbeRequest)
    assert isinstance(second, ProbeRequest)
    assert (first.seq_num, first.mac, first.channel, first.rssi_dbm) == (
        10,
        "00:1a:2b:3c:4d:5e",
        1,
        None,
    )
    assert (second.seq_num, second.randomized) == (11, True)
    assert first.ie_fingerprint == second.ie_fingerprint  # the FCS was found and removed
    assert first.ts_s == TS_S + 0.25
    assert isinstance(ack, WifiRejection)
    assert ack.reason is WifiRejectReason.NOT_PROBE_REQUEST


def test_unsupported_linktype_is_a_rejection() -> None:
    """An Ethernet capture's frame comes back as unsupported_linktype, not an exception."""
    result = decode_frame(b"\x00" * 60, linktype=1, ts_s=5.0)
    assert isinstance(result, WifiRejection)
    assert result.reason is WifiRejectReason.UNSUPPORTED_LINKTYPE
    assert result.ts_s == 5.0


def test_repr_never_shows_mac_or_ssid() -> None:
    """A ProbeRequest's repr leaves out the raw MAC and the SSID (safe in a stray log line)."""
    text = repr(_probe(1))
    assert "da:a1" not in text
    assert "CoffeeShop" not in text


@pytest.mark.parametrize(
    ("freq_mhz", "channel"),
    [(2412, 1), (2437, 6), (2472, 13), (2484, 14), (5180, 36), (5825, 165), (5955, 1), (5935, 2)],
)
def test_channel_from_frequency(freq_mhz: int, channel: int) -> None:
    """Centre frequencies map to IEEE channel numbers in the 2.4, 5 and 6 GHz bands."""
    assert channel_from_freq(freq_mhz) == channel


def test_unknown_frequency_has_no_channel_and_channels_round_trip() -> None:
    """An out-of-band frequency gives None; 2.4 and 5 GHz channels map back to themselves."""
    assert channel_from_freq(900) is None
    for channel in (*range(1, 15), 36, 40, 149, 165):
        freq = freq_from_channel(channel)
        assert freq is not None
        assert channel_from_freq(freq) == channel


def test_scapy_radiotap_packet() -> None:
    """A RadioTap/Dot11 probe built with scapy decodes with its time, RSSI and SSID."""
    from scapy.layers.dot11 import Dot11, Dot11Elt, Dot11ProbeReq, RadioTap

    packet = (
        RadioTap(present="Flags+Channel+dBm_AntSignal", Flags=0, ChannelFrequency=2462,
                 ChannelFlags=0x00A0, dBm_AntSignal=-63)
        / Dot11(type=0, subtype=4, addr1="ff:ff:ff:ff:ff:ff", addr2="02:00:00:aa:bb:cc",
                addr3="ff:ff:ff:ff:ff:ff", SC=77 << 4)
        / Dot11ProbeReq()
        / Dot11Elt(ID=0, info=b"Home")
        / Dot11Elt(ID=1, info=b"\x82\x84\x8b\x96")
    )  # fmt: skip
    packet.time = 1_700_000_000.25
    probe = decode_probe_request(packet)
    assert isinstance(probe, ProbeRequest)
    assert probe.ts_s == 1_700_000_000.25
    assert probe.mac == "02:00:00:aa:bb:cc"
    assert (probe.rssi_dbm, probe.channel, probe.freq_mhz) == (-63, 11, 2462)
    assert (probe.ssid, probe.seq_num, probe.randomized) == ("Home", 77, True)


def test_scapy_dot11_and_dot11fcs_packets() -> None:
    """Bare Dot11 and Dot11FCS packets decode; an Ethernet packet is unsupported."""
    from scapy.layers.dot11 import Dot11, Dot11Elt, Dot11FCS, Dot11ProbeReq
    from scapy.layers.l2 import Ether

    fields: dict[str, Any] = {"type": 0, "subtype": 4, "addr2": "00:11:22:33:44:55", "SC": 80}
    plain = decode_probe_request(Dot11(**fields) / Dot11ProbeReq() / Dot11Elt(ID=0, info=b""))
    with_fcs = decode_probe_request(Dot11FCS(**fields) / Dot11ProbeReq() / Dot11Elt(ID=0, info=b""))
    assert isinstance(plain, ProbeRequest)
    assert isinstance(with_fcs, ProbeRequest)
    assert plain.mac == with_fcs.mac == "00:11:22:33:44:55"
    assert plain.ie_fingerprint == with_fcs.ie_fingerprint
    ether = decode_probe_request(Ether())
    assert isinstance(ether, WifiRejection)
    assert ether.reason is WifiRejectReason.UNSUPPORTED_LINKTYPE
    nonsense = decode_probe_request(object())
    assert isinstance(nonsense, WifiRejection)
    unknown_raw = decode_probe_request(b"\x08\x00" + bytes(30))  # a data frame's bytes
    assert isinstance(unknown_raw, WifiRejection)
    assert unknown_raw.reason is WifiRejectReason.UNSUPPORTED_LINKTYPE
    bare = decode_probe_request(bytes(Dot11(**fields) / Dot11ProbeReq() / Dot11Elt(ID=0)))
    assert isinstance(bare, ProbeRequest)
    assert bare.mac == "00:11:22:33:44:55"


def _real_captures() -> list[Path]:
    baccichet = shared_data("wifi-probe-devices-baccichet", "PCAP")
    vigo = shared_data("wifi-probe-macrand-vigo", "WiresharkCaptures")
    # The mixed 8,497-frame Samsung capture is compared by count in the CLI integration test.
    return [
        *sorted(baccichet.glob("*.pcap")),
        vigo / "iPad" / "Filtered" / "02_iPadApple_01_filtered.pcapng",
    ]


def test_real_captures_agree_with_scapy_field_by_field() -> None:
    """On real captures every probe's MAC, seq, RSSI, frequency and SSID equal scapy's reading."""
    from scapy.layers.dot11 import Dot11, Dot11Elt, Dot11ProbeReq, RadioTap
    from scapy.utils import PcapReader

    compared = 0
    for path in _real_captures():
        ours = [r for r in iter_probe_requests(path) if isinstance(r, ProbeRequest)]
        theirs = []
        with PcapReader(str(path)) as reader:
            for packet in reader:
                if packet.haslayer(Dot11ProbeReq):
                    theirs.append(packet)
        assert len(ours) == len(theirs), path.name
        for probe, packet in zip(ours, theirs, strict=True):
            dot11 = packet[Dot11]
            radiotap = packet[RadioTap]
            ssid_element = packet[Dot11Elt]
            assert probe.mac == dot11.addr2
            assert probe.seq_num == dot11.SC >> 4
            assert probe.rssi_dbm == radiotap.dBm_AntSignal
            assert probe.freq_mhz == radiotap.ChannelFrequency
            assert probe.ts_s == pytest.approx(float(packet.time), abs=1e-6)
            expected_ssid = ssid_element.info.decode("utf-8", "backslashreplace") or None
            assert probe.ssid == expected_ssid
            compared += 1
    assert compared > 7000


def test_one_phone_shows_few_fingerprints_despite_many_macs() -> None:
    """A single iPhone rotating through hundreds of MACs keeps at most three IE fingerprints."""
    path = shared_data("wifi-probe-devices-baccichet", "PCAP", "iPhone11-B_anonymized.pcap")
    probes = [r for r in iter_probe_requests(path) if isinstance(r, ProbeRequest)]
    assert len({p.mac for p in probes}) == 465
    assert len({p.ie_fingerprint for p in probes}) <= 3


def test_scapy_packets_of_a_real_capture_decode_like_its_bytes() -> None:
    """Packets from scapy's reader (as a live sniffer hands them over) decode like the bytes."""
    import dataclasses

    from scapy.config import conf
    from scapy.layers.dot11 import RadioTap  # registers link type 127 with scapy's readers
    from scapy.utils import PcapReader

    path = shared_data("wifi-probe-devices-baccichet", "PCAP", "S21Ultra-M_anonymized.pcap")
    from_bytes = list(iter_probe_requests(path))
    with PcapReader(str(path)) as reader:
        packets = list(reader)
    assert all(isinstance(packet, RadioTap) for packet in packets)
    from_packets = [decode_probe_request(packet) for packet in packets]
    # without scapy's 802.11 layers loaded, a sniffer hands over Raw packets: same result
    raw_packets = []
    for packet in packets:
        raw = conf.raw_layer(bytes(packet))
        raw.time = packet.time
        raw_packets.append(raw)
    from_raw = [decode_probe_request(packet) for packet in raw_packets]
    assert from_raw == from_packets
    assert len(from_packets) == len(from_bytes) == 139
    for ours, theirs in zip(from_bytes, from_packets, strict=True):
        assert isinstance(ours, ProbeRequest)
        assert isinstance(theirs, ProbeRequest)
        assert theirs.ts_s == pytest.approx(ours.ts_s, abs=1e-6)
        assert dataclasses.replace(theirs, ts_s=ours.ts_s) == ours


def test_ppi_frames_built_by_scapy() -> None:
    """A PPI + 802.11 probe (scapy's PPI writer) decodes with its signal, frequency and FCS flag."""
    from scapy.contrib.ppi_cace import PPI_Dot11Common
    from scapy.layers.dot11 import Dot11, Dot11Elt, Dot11FCS, Dot11ProbeReq
    from scapy.layers.ppi import PPI, PPI_Hdr

    def ppi(flags: int) -> Any:
        common = PPI_Dot11Common(Antsignal=-61, Ch_Freq=2437, Pkt_Flags=flags)
        return PPI(dlt=105, headers=[PPI_Hdr() / common])

    fields: dict[str, Any] = {"type": 0, "subtype": 4, "addr2": "02:11:22:33:44:55", "SC": 144}
    probe = Dot11ProbeReq() / Dot11Elt(ID=0, info=b"")
    plain = decode_probe_request(ppi(0) / Dot11(**fields) / probe)
    with_fcs = decode_frame(bytes(ppi(1) / Dot11FCS(**fields) / probe), linktype=192, ts_s=0.0)
    bad_fcs = decode_frame(bytes(ppi(5) / Dot11FCS(**fields) / probe), linktype=192, ts_s=0.0)
    assert isinstance(plain, ProbeRequest)
    assert (plain.rssi_dbm, plain.channel, plain.seq_num, plain.mac) == (
        -61,
        6,
        9,
        "02:11:22:33:44:55",
    )
    assert isinstance(with_fcs, ProbeRequest)
    assert with_fcs.ie_fingerprint == plain.ie_fingerprint
    assert isinstance(bad_fcs, WifiRejection)
    assert bad_fcs.reason is WifiRejectReason.BAD_FCS
    not_wifi = decode_frame(bytes.fromhex("0000080001000000"), linktype=192, ts_s=0.0)
    assert isinstance(not_wifi, WifiRejection)
    assert not_wifi.reason is WifiRejectReason.BAD_PPI
