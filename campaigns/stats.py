"""Lift statistics for exposed-versus-control visit rates.

Every function is pure: counts in, a frozen result out. Each result names the
method that produced it, so a report can print it beside the number.

Methods (references in ``docs/attribution.md``):

- pooled two-proportion z-test (two-sided p-value);
- relative lift ``p1/p0 - 1`` with the Katz log-ratio interval
  (Katz et al. 1978, statsmodels ``method="log"``);
- absolute difference ``p1 - p0`` with Newcombe's hybrid Wilson score interval
  (Newcombe 1998, method 10; statsmodels ``method="newcomb"``);
- visits per person: Welch's t-test on the difference of means and a delta-method
  interval on the log ratio of means;
- difference-in-differences against a pre-period when there is no randomized control;
- power and minimum detectable effect of a two-proportion test (Cohen's h, normal
  approximation, as statsmodels ``NormalIndPower``).

Student's t distribution is computed here (regularized incomplete beta by a
continued fraction) so that scipy is not a runtime dependency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

_NORMAL = NormalDist()

#: The confidence levels every report carries.
LEVELS: tuple[float, ...] = (0.90, 0.95)


class StatsInputError(ValueError):
    """Counts that cannot describe a sample (negative, or more successes than trials)."""


def _check_count(name: str, successes: int, trials: int) -> None:
    if trials <= 0:
        raise StatsInputError(f"'{name}' trials must be > 0 (got {trials})")
    if not 0 <= successes <= trials:
        raise StatsInputError(f"'{name}' successes must be in [0, {trials}] (got {successes})")


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise StatsInputError(f"'level' must be in (0, 1) (got {level})")


def normal_quantile(level: float) -> float:
    """Two-sided critical value: ``z`` with ``P(|Z| <= z) = level``."""
    _check_level(level)
    return _NORMAL.inv_cdf(0.5 + level / 2.0)


def two_sided_normal_p(z: float) -> float:
    """``P(|Z| >= |z|)`` for a standard normal ``Z``."""
    return 2.0 * _NORMAL.cdf(-abs(z))


# --- Student's t, without scipy ---------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta (modified Lentz), accurate to ~1e-15."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return h


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """``I_x(a, b)`` for ``a, b > 0`` and ``0 <= x <= 1``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    # Use the continued fraction where it converges fast, the symmetry relation elsewhere.
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_sf(t: float, df: float) -> float:
    """Upper tail ``P(T > t)`` of Student's t with ``df`` degrees of freedom."""
    if df <= 0:
        raise StatsInputError(f"'df' must be > 0 (got {df})")
    x = df / (df + t * t)
    tail = 0.5 * regularized_incomplete_beta(df / 2.0, 0.5, x)
    return tail if t >= 0 else 1.0 - tail


def t_quantile(level: float, df: float) -> float:
    """Two-sided critical value of Student's t: ``P(|T| <= q) = level``."""
    _check_level(level)
    target = (1.0 - level) / 2.0
    lo, hi = 0.0, 1.0
    while t_sf(hi, df) > target:
        hi *= 2.0
    for _ in range(200):  # bisection: monotone, robust, 200 halvings reach float precision
        mid = 0.5 * (lo + hi)
        if t_sf(mid, df) > target:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-14 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


# --- proportions --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Interval:
    """A two-sided confidence interval at ``level``, with the method that produced it."""

    level: float
    lower: float
    upper: float
    method: str


def wilson_interval(successes: int, trials: int, level: float) -> Interval:
    """Wilson score interval for one proportion (Wilson 1927)."""
    _check_count("wilson", successes, trials)
    z = normal_quantile(level)
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2.0 * trials)) / denom
    half = z * math.sqrt(p * (1.0 - p) / trials + z * z / (4.0 * trials * trials)) / denom
    return Interval(level, centre - half, centre + half, "wilson score")


def pooled_z_test(x1: int, n1: int, x0: int, n0: int) -> tuple[float, float]:
    """Pooled two-proportion z statistic of ``p1 - p0`` and its two-sided p-value.

    z = (p1 - p0) / sqrt(p (1 - p) (1/n1 + 1/n0)),  p = (x1 + x0) / (n1 + n0)
    """
    _check_count("exposed", x1, n1)
    _check_count("control", x0, n0)
    p1, p0 = x1 / n1, x0 / n0
    pooled = (x1 + x0) / (n1 + n0)
    var = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n0)
    if var == 0.0:
        return 0.0, 1.0
    z = (p1 - p0) / math.sqrt(var)
    return z, two_sided_normal_p(z)


def newcombe_diff_interval(x1: int, n1: int, x0: int, n0: int, level: float) -> Interval:
    """Newcombe's hybrid score interval for ``p1 - p0`` (Newcombe 1998, method 10).

    L = d - sqrt((p1 - l1)^2 + (u0 - p0)^2),  U = d + sqrt((u1 - p1)^2 + (p0 - l0)^2)
    where (l, u) are the Wilson intervals of each arm.
    """
    w1 = wilson_interval(x1, n1, level)
    w0 = wilson_interval(x0, n0, level)
    p1, p0 = x1 / n1, x0 / n0
    d = p1 - p0
    lower = d - math.sqrt((p1 - w1.lower) ** 2 + (w0.upper - p0) ** 2)
    upper = d + math.sqrt((w1.upper - p1) ** 2 + (p0 - w0.lower) ** 2)
    return Interval(level, lower, upper, "newcombe hybrid score (method 10)")


def katz_ratio_interval(x1: int, n1: int, x0: int, n0: int, level: float) -> Interval | None:
    """Katz interval for the risk ratio ``p1/p0``, on the log scale.

    log(RR) +- z * sqrt(1/x1 - 1/n1 + 1/x0 - 1/n0). Undefined (``None``) when an arm has
    no successes.
    """
    _check_count("exposed", x1, n1)
    _check_count("control", x0, n0)
    if x1 == 0 or x0 == 0:
        return None
    z = normal_quantile(level)
    log_rr = math.log((x1 / n1) / (x0 / n0))
    se = math.sqrt(1.0 / x1 - 1.0 / n1 + 1.0 / x0 - 1.0 / n0)
    return Interval(level, math.exp(log_rr - z * se), math.exp(log_rr + z * se), "katz log ratio")


@dataclass(frozen=True, slots=True)
class RateLift:
    """Exposed versus control visit rate, with every derived number and its method.

    ``relative_lift`` is ``p1/p0 - 1``; its intervals are the Katz ratio intervals minus one.
    ``incremental_visitors`` is ``(p1 - p0) * n1``: exposed visitors beyond what the control
    rate predicts; ``incremental_share`` is that over ``x1``.
    """

    exposed_visitors: int
    exposed_people: int
    control_visitors: int
    control_people: int
    exposed_rate: float
    control_rate: float
    absolute_difference: float
    relative_lift: float | None
    z: float
    p_value: float
    incremental_visitors: float
    incremental_share: float | None
    difference_intervals: tuple[Interval, ...]
    relative_lift_intervals: tuple[Interval | None, ...]
    test_method: str = "pooled two-proportion z-test, two-sided"


def rate_lift(x1: int, n1: int, x0: int, n0: int, levels: tuple[float, ...] = LEVELS) -> RateLift:
    """Lift of the exposed arm (``x1`` visitors of ``n1`` people) over the control arm."""
    z, p_value = pooled_z_test(x1, n1, x0, n0)
    p1, p0 = x1 / n1, x0 / n0
    relative = p1 / p0 - 1.0 if p0 > 0 else None
    incremental = (p1 - p0) * n1
    diff_cis = tuple(newcombe_diff_interval(x1, n1, x0, n0, lv) for lv in levels)
    lift_cis: list[Interval | None] = []
    for lv in levels:
        ratio = katz_ratio_interval(x1, n1, x0, n0, lv)
        lift_cis.append(
            None
            if ratio is None
            else Interval(lv, ratio.lower - 1.0, ratio.upper - 1.0, "katz log ratio, minus one")
        )
    return RateLift(
        exposed_visitors=x1,
        exposed_people=n1,
        control_visitors=x0,
        control_people=n0,
        exposed_rate=p1,
        control_rate=p0,
        absolute_difference=p1 - p0,
        relative_lift=relative,
        z=z,
        p_value=p_value,
        incremental_visitors=incremental,
        incremental_share=incremental / x1 if x1 > 0 else None,
        difference_intervals=diff_cis,
        relative_lift_intervals=tuple(lift_cis),
    )


# --- visits per person --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArmMoments:
    """Sufficient statistics of one arm: people ``n``, ``total`` visits, sum of squares."""

    n: int
    total: float
    sum_squares: float

    def __post_init__(self) -> None:
        if self.n < 2:
            raise StatsInputError(f"'n' must be >= 2 for a variance (got {self.n})")
        if self.sum_squares < 0 or self.total < 0:
            raise StatsInputError(
                f"'total' and 'sum_squares' must be >= 0 (got {self.total}, {self.sum_squares})"
            )

    @property
    def mean(self) -> float:
        return self.total / self.n

    @property
    def variance(self) -> float:
        """Unbiased sample variance, (ss - s^2/n) / (n - 1), clipped at zero for rounding."""
        return max(0.0, (self.sum_squares - self.total * self.total / self.n) / (self.n - 1))


@dataclass(frozen=True, slots=True)
class MeanLift:
    """Visits per person: Welch t-test on the difference, delta-method log-ratio lift."""

    exposed_mean: float
    control_mean: float
    difference: float
    t: float
    df: float
    p_value: float
    difference_intervals: tuple[Interval, ...]
    relative_lift: float | None
    relative_lift_intervals: tuple[Interval | None, ...]
    test_method: str = "welch t-test, two-sided"


def mean_lift(
    exposed: ArmMoments, control: ArmMoments, levels: tuple[float, ...] = LEVELS
) -> MeanLift:
    """Welch's unequal-variance t-test and a delta-method interval for the ratio of means.

    se = sqrt(v1/n1 + v0/n0);  df = se^4 / ((v1/n1)^2/(n1-1) + (v0/n0)^2/(n0-1))
    Var(log(m1/m0)) ~= v1/(n1 m1^2) + v0/(n0 m0^2)   (delta method)
    """
    a1 = exposed.variance / exposed.n
    a0 = control.variance / control.n
    diff = exposed.mean - control.mean
    se2 = a1 + a0
    if se2 == 0.0:
        t, df, p = 0.0, float(exposed.n + control.n - 2), 1.0
        diff_cis = tuple(Interval(lv, diff, diff, "welch t") for lv in levels)
    else:
        se = math.sqrt(se2)
        df = se2 * se2 / (a1 * a1 / (exposed.n - 1) + a0 * a0 / (control.n - 1))
        t = diff / se
        p = 2.0 * t_sf(abs(t), df)
        diff_cis = tuple(
            Interval(lv, diff - t_quantile(lv, df) * se, diff + t_quantile(lv, df) * se, "welch t")
            for lv in levels
        )
    relative: float | None = None
    lift_cis: list[Interval | None] = [None for _ in levels]
    if exposed.mean > 0 and control.mean > 0:
        relative = exposed.mean / control.mean - 1.0
        log_ratio = math.log(exposed.mean / control.mean)
        se_log = math.sqrt(a1 / exposed.mean**2 + a0 / control.mean**2)
        lift_cis = [
            Interval(
                lv,
                math.exp(log_ratio - normal_quantile(lv) * se_log) - 1.0,
                math.exp(log_ratio + normal_quantile(lv) * se_log) - 1.0,
                "delta method on log ratio of means, minus one",
            )
            for lv in levels
        ]
    return MeanLift(
        exposed_mean=exposed.mean,
        control_mean=control.mean,
        difference=diff,
        t=t,
        df=df,
        p_value=p,
        difference_intervals=diff_cis,
        relative_lift=relative,
        relative_lift_intervals=tuple(lift_cis),
    )


# --- difference in differences ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiffInDiff:
    """Difference-in-differences of visit rates: NOT a randomized estimate.

    ``estimate = (p_exposed_post - p_exposed_pre) - (p_comparison_post - p_comparison_pre)``.
    The standard error treats the four rates as independent binomials, which ignores the
    correlation of the same people before and after; the label says so.
    """

    estimate: float
    standard_error: float
    z: float
    p_value: float
    intervals: tuple[Interval, ...]
    label: str = (
        "difference-in-differences against the pre-period (no randomized control; "
        "assumes parallel trends; independent-binomial standard error)"
    )


def diff_in_diff(
    exposed_pre: tuple[int, int],
    exposed_post: tuple[int, int],
    comparison_pre: tuple[int, int],
    comparison_post: tuple[int, int],
    levels: tuple[float, ...] = LEVELS,
) -> DiffInDiff:
    """DiD of four ``(visitors, people)`` cells; see :class:`DiffInDiff` for the caveats."""
    cells = {
        "exposed_pre": exposed_pre,
        "exposed_post": exposed_post,
        "comparison_pre": comparison_pre,
        "comparison_post": comparison_post,
    }
    rates: dict[str, float] = {}
    var = 0.0
    for name, (x, n) in cells.items():
        _check_count(name, x, n)
        p = x / n
        rates[name] = p
        var += p * (1.0 - p) / n
    est = (rates["exposed_post"] - rates["exposed_pre"]) - (
        rates["comparison_post"] - rates["comparison_pre"]
    )
    se = math.sqrt(var)
    z = est / se if se > 0 else 0.0
    cis = tuple(
        Interval(
            lv,
            est - normal_quantile(lv) * se,
            est + normal_quantile(lv) * se,
            "wald, independent binomials",
        )
        for lv in levels
    )
    return DiffInDiff(est, se, z, two_sided_normal_p(z) if se > 0 else 1.0, cis)


# --- planning -----------------------------------------------------------------------------


def cohens_h(p1: float, p0: float) -> float:
    """Cohen's effect size for two proportions: 2 asin(sqrt p1) - 2 asin(sqrt p0)."""
    for name, p in (("p1", p1), ("p0", p0)):
        if not 0.0 <= p <= 1.0:
            raise StatsInputError(f"'{name}' must be in [0, 1] (got {p})")
    return 2.0 * math.asin(math.sqrt(p1)) - 2.0 * math.asin(math.sqrt(p0))


def power_two_proportions(
    p1: float, p0: float, n_exposed: int, n_control: int, alpha: float = 0.05
) -> float:
    """Power of the two-sided two-proportion test (normal approximation on Cohen's h).

    power = Phi(|h| sqrt(n1 n0/(n1+n0)) - z) + Phi(-|h| sqrt(n1 n0/(n1+n0)) - z),
    z = z_{1-alpha/2}; equals statsmodels ``NormalIndPower().power(h, n1, alpha, n0/n1)``.
    """
    if n_exposed <= 0 or n_control <= 0:
        raise StatsInputError(
            f"'n_exposed' and 'n_control' must be > 0 (got {n_exposed}, {n_control})"
        )
    h = abs(cohens_h(p1, p0))
    crit = normal_quantile(1.0 - alpha)
    scale = math.sqrt(n_exposed * n_control / (n_exposed + n_control))
    return _NORMAL.cdf(h * scale - crit) + _NORMAL.cdf(-h * scale - crit)


def minimum_detectable_effect(
    p0: float, n_exposed: int, n_control: int, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest exposed rate increase ``p1 - p0`` detected with ``power`` (bisection on p1)."""
    if not 0.0 < power < 1.0:
        raise StatsInputError(f"'power' must be in (0, 1) (got {power})")
    if power_two_proportions(1.0, p0, n_exposed, n_control, alpha) < power:
        raise StatsInputError(
            f"no rate up to 1.0 reaches power {power} with n={n_exposed}/{n_control}"
        )
    lo, hi = p0, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if power_two_proportions(mid, p0, n_exposed, n_control, alpha) < power:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13:
            break
    return hi - p0
