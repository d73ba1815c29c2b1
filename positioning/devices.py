"""How many phones are behind a stream of randomized probe-request addresses.

Phones rotate the source address of their probe requests (iOS 15+ often per scan burst),
so counting distinct addresses overcounts people by one or two orders of magnitude.
:func:`estimate_devices` links addresses into *chains*, one per estimated device, from
clues the rotation does not hide:

1. **IE fingerprint.** The information elements of a probe request (supported rates, HT/VHT
   capabilities, extended capabilities, vendor elements; not the SSID or the channel)
   depend on the phone model and OS, not on the address. Addresses are only linked
   within one fingerprint *family*: fingerprints seen on one same address are one family
   (a phone sends a wildcard and a directed probe, or a 2.4 GHz and a 5 GHz variant).
2. **Sequence-number continuity.** The 802.11 sequence number is a 12-bit counter that
   increases per frame; some phones keep it across a rotation, so a new address whose
   first number follows an old address's last one within ``seq_window`` (mod 4096) is
   the same phone — the strongest link.
3. **Burst timing.** Within a scan burst a phone's addresses follow each other within
   ``burst_gap_s``: such an address joins the chain it continues. Across bursts, timing
   alone links a new address to a silent chain of its family only in families that
   rotate *per burst* (almost no address outlives one burst, as the real iPhones and
   Android 13 phones of the Baccichet captures do) and that do not keep their sequence
   counter; elsewhere a new address with no other clue is a new phone. A chain silent
   for longer than ``max_link_gap_s`` takes no new address (the phone left, or is
   counted again). An optional RSSI gate (``rssi_tolerance_db``) is off by default.
4. **Shadow chains.** A phone that alternates two probe formats on two addresses shows
   up as two fingerprint families; a small chain whose frames all fall in the bursts of
   one same bigger chain of another family, over at least two bursts, is merged into it.
5. **Burned-in addresses** (``randomized=False``) are devices of their own.

Inputs are keys, never raw MACs: pass a keyed hash of the address. The estimate is for
footfall and occupancy counts only; it must never be used to link a person to a device.
Deterministic: ties are broken by time, then by key.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

SEQ_MODULO = 4096
"""802.11 sequence numbers are 12 bits."""
_SEQ_CANDIDATES = 4
"""Ended addresses checked for continuity when judging a family: 4 x 64/4096 = 6 % by chance."""


class DeviceCountConfigError(ValueError):
    """A :class:`DeviceCountConfig` field is out of range."""


@dataclass(frozen=True, slots=True)
class DeviceCountConfig:
    """Thresholds of the address-linking estimator."""

    burst_gap_s: float = 1.0
    """Frames closer than this belong to one scan burst."""
    max_link_gap_s: float = 300.0
    """A chain silent for longer than this takes no new address."""
    seq_window: int = 64
    """A new address continues a chain if its first sequence number is 1..this after its last."""
    rssi_tolerance_db: float | None = None
    """If set, largest difference between an address's median RSSI and its chain's level.
    Off by default: one phone's RSSI at one sniffer swings by 20-30 dB (body, orientation,
    multipath; the Baccichet captures show it), so a level gate splits phones."""
    min_burst_interval_s: float = 0.0
    """A chain takes no address starting between ``burst_gap_s`` and this after its last
    frame (one phone does not scan again so soon); 0 turns the rule off."""
    seq_family_lift: float = 5.0
    """A family keeps its sequence counter across rotations when new addresses continue an
    address that just ended at least this many times more often than chance (and at least
    3 times). There, a new address without continuity is a new phone: no linking by timing."""
    per_burst_max_fraction: float = 0.1
    """A family rotates per scan burst (iOS 15+, recent Android, as the Baccichet captures
    show) when at most this fraction of its addresses is seen in two bursts or more. Only
    such families link a later burst's new address to a silent chain by timing alone."""
    shadow_fraction: float = 0.8
    """A chain seen in at least two bursts whose frames fall, at least this fraction of
    them, within ``burst_gap_s`` of the frames of one same bigger chain of another
    fingerprint family is that phone's second fingerprint (a phone alternating two probe
    formats on two addresses) and is merged into it; above 1 turns the rule off."""

    def __post_init__(self) -> None:
        for name in (
            "burst_gap_s",
            "max_link_gap_s",
            "min_burst_interval_s",
            "seq_family_lift",
            "per_burst_max_fraction",
            "shadow_fraction",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise DeviceCountConfigError(
                    f"'{name}' must be a finite number >= 0 (got {value!r})"
                )
        tol = self.rssi_tolerance_db
        if tol is not None and not (math.isfinite(tol) and tol >= 0.0):
            raise DeviceCountConfigError(
                f"'rssi_tolerance_db' must be None or a finite number >= 0 (got {tol!r})"
            )
        if not 0 <= self.seq_window < SEQ_MODULO:
            raise DeviceCountConfigError(
                f"'seq_window' must be in [0, {SEQ_MODULO - 1}] (got {self.seq_window})"
            )


@dataclass(frozen=True, slots=True)
class ProbeObservation:
    """One received probe request, reduced to what the estimator needs."""

    ts_s: float
    """Reception time, POSIX seconds."""
    address_key: str
    """Keyed hash of the source address (never the raw MAC)."""
    fingerprint: str
    """Hash of the frame's information elements, SSID and channel left out."""
    seq_num: int | None = None
    """802.11 sequence number 0..4095, if known."""
    rssi_dbm: float | None = None
    """Received signal strength in dBm, if known."""
    randomized: bool = True
    """False for a globally administered (burned-in) address: one device by itself, never
    linked to another address. Pass True when the bit cannot be trusted."""


@dataclass(frozen=True, slots=True)
class DeviceCluster:
    """The addresses the estimator believes one device used, in order of first use."""

    address_keys: tuple[str, ...]
    family: str
    """Smallest fingerprint of the chain's fingerprint family."""
    first_ts_s: float
    last_ts_s: float
    frames: int
    seq_links: int
    """How many of the chain's links were made by sequence-number continuity."""


@dataclass(frozen=True, slots=True)
class DeviceCountEstimate:
    """The estimate, the naive count beside it, and the chains behind it."""

    devices: int
    unique_addresses: int
    """Naive count: distinct source addresses."""
    frames: int
    clusters: tuple[DeviceCluster, ...]


@dataclass(slots=True)
class _Track:
    """All frames of one address."""

    key: str
    first_ts_s: float
    last_ts_s: float
    first_seq: int | None
    last_seq: int | None
    frames: int
    fingerprints: Counter[str]
    rssi_values: list[float]
    times_s: list[float]
    randomized: bool = True

    @property
    def rssi_dbm(self) -> float | None:
        if not self.rssi_values:
            return None
        ordered = sorted(self.rssi_values)
        return ordered[len(ordered) // 2]


@dataclass(slots=True)
class _Chain:
    family: str
    keys: list[str]
    first_ts_s: float
    last_ts_s: float
    last_seq: int | None
    rssi_dbm: float | None
    frames: int
    times_s: list[float]
    seq_links: int = 0
    rssi_n: int = 0
    fixed: bool = False
    """A burned-in address: a device by itself, never merged as a shadow."""

    def take(self, track: _Track, by_seq: bool) -> None:
        self.keys.append(track.key)
        self.last_ts_s = max(self.last_ts_s, track.last_ts_s)
        self.last_seq = track.last_seq if track.last_seq is not None else self.last_seq
        self.frames += track.frames
        self.times_s.extend(track.times_s)
        self.seq_links += int(by_seq)
        level = track.rssi_dbm
        if level is not None:
            # Running mean of the addresses' median levels: the chain's level.
            self.rssi_n += 1
            old = self.rssi_dbm
            self.rssi_dbm = level if old is None else old + (level - old) / self.rssi_n


def _tracks(observations: Iterable[ProbeObservation]) -> dict[str, _Track]:
    tracks: dict[str, _Track] = {}
    for obs in sorted(observations, key=lambda o: (o.ts_s, o.address_key)):
        if not math.isfinite(obs.ts_s):
            continue
        seq = obs.seq_num if obs.seq_num is not None and 0 <= obs.seq_num < SEQ_MODULO else None
        rssi = obs.rssi_dbm if obs.rssi_dbm is not None and -130.0 <= obs.rssi_dbm < 0.0 else None
        track = tracks.get(obs.address_key)
        if track is None:
            track = _Track(obs.address_key, obs.ts_s, obs.ts_s, seq, seq, 0, Counter(), [], [])
            tracks[obs.address_key] = track
        track.last_ts_s = obs.ts_s
        if seq is not None:
            if track.first_seq is None:
                track.first_seq = seq
            track.last_seq = seq
        track.frames += 1
        track.randomized = track.randomized and obs.randomized
        track.times_s.append(obs.ts_s)
        track.fingerprints[obs.fingerprint] += 1
        if rssi is not None:
            track.rssi_values.append(rssi)
    return tracks


def _families(tracks: Iterable[_Track]) -> dict[str, str]:
    """Union-find over fingerprints seen on one address; maps fingerprint -> family."""
    parent: dict[str, str] = {}

    def find(fp: str) -> str:
        parent.setdefault(fp, fp)
        while parent[fp] != fp:
            parent[fp] = parent[parent[fp]]
            fp = parent[fp]
        return fp

    for track in tracks:
        fps = sorted(track.fingerprints)
        for other in fps[1:]:
            a, b = find(fps[0]), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
        find(fps[0])
    return {fp: find(fp) for fp in parent}


def _seq_follows(last_seq: int | None, first_seq: int | None, window: int) -> bool:
    if last_seq is None or first_seq is None:
        return False
    return 1 <= (first_seq - last_seq) % SEQ_MODULO <= window


def estimate_devices(
    observations: Iterable[ProbeObservation], cfg: DeviceCountConfig | None = None
) -> DeviceCountEstimate:
    """Estimate the number of distinct devices behind probe requests (see the module docs)."""
    cfg = cfg or DeviceCountConfig()
    tracks = _tracks(observations)
    chains = _link(tracks, cfg)
    groups = _merge_shadows(chains, cfg)
    clusters = tuple(
        DeviceCluster(
            address_keys=tuple(k for c in group for k in c.keys),
            family=min(c.family for c in group),
            first_ts_s=min(c.first_ts_s for c in group),
            last_ts_s=max(c.last_ts_s for c in group),
            frames=sum(c.frames for c in group),
            seq_links=sum(c.seq_links for c in group),
        )
        for group in groups
    )
    return DeviceCountEstimate(
        devices=len(clusters),
        unique_addresses=len(tracks),
        frames=sum(t.frames for t in tracks.values()),
        clusters=clusters,
    )


def _link(tracks: dict[str, _Track], cfg: DeviceCountConfig) -> list[_Chain]:
    """Greedy chaining of addresses, in order of first frame, within fingerprint families."""
    families = _families(tracks.values())
    keep_seq = _seq_keeping_families(tracks, families, cfg)
    per_burst = _per_burst_families(tracks, families, cfg)
    chains: list[_Chain] = []
    open_by_family: dict[str, list[_Chain]] = {}
    for track in sorted(tracks.values(), key=lambda t: (t.first_ts_s, t.key)):
        family = families[track.fingerprints.most_common(1)[0][0]]
        candidates = open_by_family.setdefault(family, [])
        # Chains silent for too long never take an address again.
        candidates[:] = [
            c for c in candidates if track.first_ts_s - c.last_ts_s <= cfg.max_link_gap_s
        ]
        best = (
            _best_chain(
                candidates, track, cfg, timing_links=family in per_burst and family not in keep_seq
            )
            if track.randomized
            else None
        )
        if best is None:
            chain = _Chain(
                family=family,
                keys=[],
                first_ts_s=track.first_ts_s,
                last_ts_s=track.last_ts_s,
                last_seq=track.last_seq,
                rssi_dbm=None,
                frames=0,
                times_s=[],
            )
            chain.take(track, by_seq=False)
            chain.fixed = not track.randomized
            chains.append(chain)
            if track.randomized:  # a burned-in address is a device of its own
                candidates.append(chain)
        else:
            best[0].take(track, best[1])
    for chain in chains:
        chain.times_s.sort()
    return chains


def _per_burst_families(
    tracks: dict[str, _Track], families: dict[str, str], cfg: DeviceCountConfig
) -> set[str]:
    """Families whose addresses (nearly) never outlive one burst: phones that rotate per scan.

    Only there may a later burst's new address join a silent chain by timing alone; where
    addresses last for many bursts, a new address is more likely a new phone than a rotation.
    """
    seen: Counter[str] = Counter()
    multi: Counter[str] = Counter()
    for track in tracks.values():
        family = families[track.fingerprints.most_common(1)[0][0]]
        seen[family] += 1
        multi[family] += _bursts(sorted(track.times_s), cfg.burst_gap_s) >= 2
    return {f for f, n in seen.items() if multi[f] <= cfg.per_burst_max_fraction * n}


def _seq_keeping_families(
    tracks: dict[str, _Track], families: dict[str, str], cfg: DeviceCountConfig
) -> set[str]:
    """Families whose new addresses mostly continue an ended address's sequence numbers.

    In such a family (phones that keep the counter across a rotation) a new address
    *without* continuity is another phone, so links by timing alone are turned off.
    Random sequence numbers match by chance with probability ``seq_window / 4096`` per
    candidate; the family must beat that ``seq_family_lift`` times over.
    """
    by_family: dict[str, list[_Track]] = {}
    for track in sorted(tracks.values(), key=lambda t: (t.first_ts_s, t.key)):
        by_family.setdefault(families[track.fingerprints.most_common(1)[0][0]], []).append(track)
    keeping: set[str] = set()
    for family, members in by_family.items():
        ended = sorted(members, key=lambda t: t.last_ts_s)
        ended_ts = [t.last_ts_s for t in ended]
        matched = 0
        by_chance = 0.0
        for track in members:
            lo = bisect.bisect_left(ended_ts, track.first_ts_s - cfg.max_link_gap_s)
            hi = bisect.bisect_right(ended_ts, track.first_ts_s)
            # The few addresses that ended last: a rotation's predecessor is among them,
            # and few candidates keep chance matches rare.
            before = [t for t in ended[lo:hi] if t is not track][-_SEQ_CANDIDATES:]
            if not before or track.first_seq is None:
                continue
            by_chance += len(before) * cfg.seq_window / SEQ_MODULO
            matched += any(
                _seq_follows(t.last_seq, track.first_seq, cfg.seq_window) for t in before
            )
        if matched >= 3 and matched >= cfg.seq_family_lift * by_chance:
            keeping.add(family)
    return keeping


def _merge_shadows(chains: list[_Chain], cfg: DeviceCountConfig) -> list[list[_Chain]]:
    """Merge each chain that only ever transmits in another family's bursts into that chain.

    Returns the groups (one per device), each in order of first frame.
    """
    if not chains or cfg.shadow_fraction > 1.0:
        return [[c] for c in chains]
    # All frames of all chains, in time order: (ts, chain index).
    frames = sorted((t, i) for i, c in enumerate(chains) for t in c.times_s)
    times = [t for t, _ in frames]
    parent = list(range(len(chains)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Smaller chains first, so a shadow folds into a bigger host, never the other way.
    for i in sorted(range(len(chains)), key=lambda i: (chains[i].frames, chains[i].first_ts_s)):
        chain = chains[i]
        if chain.fixed:
            continue
        hits: Counter[int] = Counter()
        for t in chain.times_s:
            lo = bisect.bisect_left(times, t - cfg.burst_gap_s)
            hi = bisect.bisect_right(times, t + cfg.burst_gap_s)
            hits.update(
                {
                    j
                    for _, j in frames[lo:hi]
                    if chains[j].family != chain.family and chains[j].frames > chain.frames
                }
            )
        if not hits or _bursts(chain.times_s, cfg.burst_gap_s) < 2:
            continue  # one burst is not evidence: in a crowd another phone is always near
        host = min(hits, key=lambda j: (-hits[j], chains[j].first_ts_s, j))
        # One same host for (nearly) every frame: a coincidence spreads over many hosts.
        if hits[host] >= cfg.shadow_fraction * len(chain.times_s):
            parent[find(i)] = find(host)
    groups: dict[int, list[_Chain]] = {}
    for i, chain in enumerate(chains):
        groups.setdefault(find(i), []).append(chain)
    return sorted(groups.values(), key=lambda g: min(c.first_ts_s for c in g))


def _bursts(times_s: list[float], gap_s: float) -> int:
    """Number of bursts in sorted frame times (a gap over ``gap_s`` starts a new one)."""
    return (1 + sum(1 for a, b in itertools.pairwise(times_s) if b - a > gap_s)) if times_s else 0


def _level_diff(track: _Track, chain: _Chain) -> float:
    level = track.rssi_dbm
    return abs(level - chain.rssi_dbm) if level is not None and chain.rssi_dbm is not None else 0.0


def _best_chain(
    candidates: list[_Chain], track: _Track, cfg: DeviceCountConfig, *, timing_links: bool
) -> tuple[_Chain, bool] | None:
    """The chain that should take ``track`` and whether by sequence continuity; ``None``: new.

    Tiers, best first: sequence continuity after the chain's last frame; same burst (the
    address starts within ``burst_gap_s`` of the chain's last frame, before or after it);
    a later burst (at least ``min_burst_interval_s`` after), closest level first — the last
    only when ``timing_links`` (the family does not keep sequence numbers).
    """
    best: tuple[tuple[int, float, float], _Chain, bool] | None = None
    tolerance = math.inf if cfg.rssi_tolerance_db is None else cfg.rssi_tolerance_db
    for chain in candidates:
        gap_s = track.first_ts_s - chain.last_ts_s
        by_seq = gap_s >= 0.0 and _seq_follows(chain.last_seq, track.first_seq, cfg.seq_window)
        level_diff = _level_diff(track, chain)
        if by_seq:
            tier = 0
        elif level_diff > tolerance:
            continue
        elif abs(gap_s) <= cfg.burst_gap_s:
            tier = 1
        elif timing_links and gap_s >= cfg.min_burst_interval_s:
            tier = 2
        else:
            continue
        score = (tier, level_diff if tier == 2 else abs(gap_s), chain.first_ts_s)
        if best is None or score < best[0]:
            best = (score, chain, by_seq)
    return None if best is None else (best[1], best[2])
