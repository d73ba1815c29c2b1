"""Data-driven attribution: first-order Markov chain removal effects, computed exactly.

Paths of channels are read as a Markov chain with a ``start`` state and two absorbing
states, ``conversion`` and ``null``. With the transient-to-transient matrix ``Q`` and the
transient-to-absorbing matrix ``R`` estimated from transition counts, the absorption
probabilities are ``B = (I - Q)^-1 R`` (the fundamental matrix ``N = (I - Q)^-1``,
Kemeny & Snell 1960). The conversion probability is ``B[start, conversion]``.

Removing channel ``c`` sends every transition into ``c`` to ``null``; its *removal
effect* is ``1 - P_without_c(conversion) / P(conversion)``. Conversions are shared in
proportion to removal effects (Anderl et al. 2016; the ChannelAttribution package
simulates the same quantity, here it is solved by linear algebra, no sampling).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

START = "(start)"
CONVERSION = "(conversion)"
NULL = "(null)"


class MarkovInputError(ValueError):
    """Paths from which no chain can be estimated."""


@dataclass(frozen=True, slots=True)
class PathCount:
    """A channel path with how many journeys on it converted and how many did not."""

    channels: tuple[str, ...]
    conversions: float
    nulls: float


@dataclass(frozen=True, slots=True)
class MarkovResult:
    """Conversion probability, removal effect per channel and conversions shared by them."""

    conversion_probability: float
    removal_effects: dict[str, float]
    attributed_conversions: dict[str, float]
    method: str = "first-order markov chain, removal effects via (I - Q)^-1 R (exact)"


def _transition_counts(
    paths: Iterable[PathCount],
) -> tuple[list[str], dict[tuple[str, str], float]]:
    counts: dict[tuple[str, str], float] = {}
    channels: set[str] = set()
    for path in paths:
        if path.conversions < 0 or path.nulls < 0:
            raise MarkovInputError(
                f"'conversions' and 'nulls' must be >= 0 (got {path.conversions}, {path.nulls})"
            )
        if not path.channels:
            raise MarkovInputError("'channels' must not be empty (got an empty path)")
        weight = path.conversions + path.nulls
        if weight == 0:
            continue
        channels.update(path.channels)
        states = (START, *path.channels)
        for a, b in itertools.pairwise(states):
            counts[a, b] = counts.get((a, b), 0.0) + weight
        last = path.channels[-1]
        if path.conversions:
            counts[last, CONVERSION] = counts.get((last, CONVERSION), 0.0) + path.conversions
        if path.nulls:
            counts[last, NULL] = counts.get((last, NULL), 0.0) + path.nulls
    if not counts:
        raise MarkovInputError("'paths' must contain at least one journey (got none)")
    return sorted(channels), counts


def _conversion_probability(
    transient: Sequence[str], probs: dict[tuple[str, str], float], removed: str | None
) -> float:
    index = {s: i for i, s in enumerate(transient)}
    k = len(transient)
    q = np.zeros((k, k))
    r = np.zeros(k)  # transient -> conversion
    for (a, b), p in probs.items():
        if a == removed:
            continue  # the removed state is unreachable; its row does not matter
        if b == removed:
            continue  # redirected to null: contributes to neither Q nor the conversion column
        if b == CONVERSION:
            r[index[a]] += p
        elif b != NULL:
            q[index[a], index[b]] += p
    # B = (I - Q)^-1 R, solved rather than inverted
    absorb = np.linalg.solve(np.eye(k) - q, r)
    return float(absorb[index[START]])


def markov_attribution(paths: Iterable[PathCount]) -> MarkovResult:
    """Exact removal effects and conversions shared in proportion to them."""
    path_list = list(paths)
    channels, counts = _transition_counts(path_list)
    out_totals: dict[str, float] = {}
    for (a, _b), c in counts.items():
        out_totals[a] = out_totals.get(a, 0.0) + c
    probs = {(a, b): c / out_totals[a] for (a, b), c in counts.items()}
    transient = [START, *channels]
    base = _conversion_probability(transient, probs, None)
    total_conversions = sum(p.conversions for p in path_list)
    effects: dict[str, float] = {}
    for ch in channels:
        effects[ch] = (
            0.0 if base == 0 else 1.0 - _conversion_probability(transient, probs, ch) / base
        )
    total_effect = sum(effects.values())
    attributed = {
        ch: (e / total_effect * total_conversions if total_effect > 0 else 0.0)
        for ch, e in effects.items()
    }
    return MarkovResult(base, effects, attributed)
