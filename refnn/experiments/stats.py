"""Numbers over seeds: the mean and its 95 % confidence interval.

An experiment is run once per seed; each per-seed number x_1 .. x_n is one draw of a random
quantity (data, initial weights and batch order all depend on the seed). The tables report

    mean        x̄ = (1/n) Σ x_i
    interval    x̄ ± t_{0.975, n-1} · s / √n,   s² = Σ (x_i - x̄)² / (n - 1)

Student's t interval for the mean (it assumes the x_i roughly normal; with 3 to 5 seeds it is
wide, as it should be). One seed has no interval: its half-width is NaN and it prints as
"x (1 seed)".
"""
from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as _scipy_stats

LEVEL = 0.95


def mean_interval(values: ArrayLike, level: float = LEVEL) -> tuple[float, float]:
    """(mean, half_width) of the per-seed `values`: the mean and the half-width of its `level`
    confidence interval by Student's t (NaN for a single value)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("values must hold at least one number, got none")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"values must be finite, got {x.tolist()}")
    mean = float(x.mean())
    if x.size == 1:
        return mean, math.nan
    s = float(x.std(ddof=1))                                    # s, the sample deviation
    t = float(_scipy_stats.t.ppf(0.5 + level / 2, x.size - 1))  # t_{0.975, n-1}
    return mean, t * s / math.sqrt(x.size)


def interval_text(values: ArrayLike, digits: int = 3, level: float = LEVEL) -> str:
    """'0.812 ± 0.014' (mean ± half-width), or '0.812 (1 seed)'."""
    mean, half = mean_interval(values, level)
    if math.isnan(half):
        return f"{mean:.{digits}g} (1 seed)"
    return f"{mean:.{digits}g} ± {half:.2g}"


def separated(a: ArrayLike, b: ArrayLike, level: float = LEVEL) -> bool:
    """True when the `level` intervals of the means of `a` and of `b` do not overlap: the
    smallest claim "a and b differ" that the seeds support (False with a single seed)."""
    ma, ha = mean_interval(a, level)
    mb, hb = mean_interval(b, level)
    if math.isnan(ha) or math.isnan(hb):
        return False
    return abs(ma - mb) > ha + hb
