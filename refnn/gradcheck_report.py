"""The result of a gradient check (refnn.gradcheck): one row per parameter tensor, the
entries skipped at kinks, the failures, and a readable table.

GradcheckEntry   one perturbed entry: analytic a, central difference n, relative error r
GradcheckRow     one tensor: its worst entry and counts
GradcheckReport  the rows, kinks and failures of a check; ok, max_rel_error, str() a table
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["GradcheckReport", "GradcheckRow", "GradcheckEntry"]

_KINKS_LISTED_IN_TEXT = 20   # __str__ lists at most this many kink entries


# ---------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GradcheckEntry:
    """One checked entry: analytic a, central difference n, relative error r.

    `crossed` is None for an ordinary entry; for an entry skipped at a kink it says which
    side of the central difference changed the kink signature: "+step", "-step" or "both".
    """
    name: str
    index: tuple
    analytic: float
    numeric: float
    rel_error: float
    crossed: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "index": self.index, "analytic": self.analytic,
                "numeric": self.numeric, "rel_error": self.rel_error, "crossed": self.crossed}


@dataclass(frozen=True)
class GradcheckRow:
    """The result for one parameter tensor.

    max_rel_error, index, analytic, numeric describe the worst compared entry (index is
    None, analytic and numeric None, max_rel_error 0.0 when no entry was compared).
    n_checked counts compared entries, n_kinks the entries skipped because the step
    crossed a kink, n_failed the compared entries above the tolerance.
    """
    name: str
    shape: tuple
    max_rel_error: float
    index: tuple | None
    analytic: float | None
    numeric: float | None
    n_checked: int
    n_kinks: int
    n_failed: int
    ok: bool

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": self.shape, "max_rel_error": self.max_rel_error,
                "index": self.index, "analytic": self.analytic, "numeric": self.numeric,
                "n_checked": self.n_checked, "n_kinks": self.n_kinks,
                "n_failed": self.n_failed, "ok": self.ok}


class GradcheckReport:
    """Result of a gradient check: one row per parameter tensor, kinks and failures listed.

    Attributes
    ----------
    rows : list[GradcheckRow]
        One per tensor, in parameter order.
    kinks : list[GradcheckEntry]
        Entries skipped because the step crossed a kink.
    failures : list[GradcheckEntry]
        Compared entries with rel_error > tolerance.
    entries : list[GradcheckEntry]
        Every perturbed entry, in the order checked (tensor by tensor, C order inside one):
        compared ones and kinks.
    step, tolerance, tiny : float
        The settings used.
    loss : float
        The loss at the unperturbed weights.
    converted_from : str or None
        The model's dtype when a float64 copy was checked.

    The properties max_rel_error, ok, n_checked and n_kinks sum the rows up; str(report) is
    the readable table.
    """

    dtype = "float64"

    def __init__(self, rows: Iterable[GradcheckRow], kinks: Iterable[GradcheckEntry],
                 failures: Iterable[GradcheckEntry], *, step: float, tolerance: float, tiny: float,
                 loss: float, converted_from: str | None = None,
                 entries: Iterable[GradcheckEntry] = ()) -> None:
        self.rows = list(rows)
        self.kinks = list(kinks)
        self.failures = list(failures)
        self.entries = list(entries)
        self.step = step
        self.tolerance = tolerance
        self.tiny = tiny
        self.loss = loss
        self.converted_from = converted_from

    @property
    def max_rel_error(self) -> float:
        """The worst relative error over all compared entries (0.0 when none was compared)."""
        return max((row.max_rel_error for row in self.rows), default=0.0)

    @property
    def ok(self) -> bool:
        """Every row ok: no compared entry above the tolerance."""
        return all(row.ok for row in self.rows)

    @property
    def n_checked(self) -> int:
        """How many entries were compared, over all rows."""
        return sum(row.n_checked for row in self.rows)

    @property
    def n_kinks(self) -> int:
        """How many entries were skipped at a kink, over all rows."""
        return sum(row.n_kinks for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain Python data (dicts, lists, tuples, str, int, float, None)."""
        return {"step": self.step, "tolerance": self.tolerance, "tiny": self.tiny,
                "dtype": self.dtype, "converted_from": self.converted_from,
                "loss": self.loss, "max_rel_error": self.max_rel_error, "ok": self.ok,
                "n_checked": self.n_checked, "n_kinks": self.n_kinks,
                "rows": [row.to_dict() for row in self.rows],
                "kinks": [entry.to_dict() for entry in self.kinks],
                "failures": [entry.to_dict() for entry in self.failures]}

    def __repr__(self) -> str:
        return (f"<GradcheckReport ok={self.ok} max_rel_error={self.max_rel_error:.1e} "
                f"tensors={len(self.rows)} checked={self.n_checked} kinks={self.n_kinks}>")

    def __str__(self) -> str:
        header = (f"gradient check: central differences, step {self.step:g}, "
                  f"tolerance {self.tolerance:g}, float64")
        if self.converted_from is not None:
            header += f" (a float64 copy of the {self.converted_from} model, made with astype)"
        lines = [header] + _table(self.rows) + self._summary()
        return "\n".join(lines)

    def _summary(self):
        lines = []
        n_checked = self.n_checked
        if n_checked == 0:
            lines.append("no gradient entry was compared")
        elif self.ok:
            lines.append(f"all {n_checked} gradients agree "
                         f"(max relative error {self.max_rel_error:.1e})")
        else:
            lines.append(f"NOT OK: {len(self.failures)} of {n_checked} gradients disagree "
                         f"beyond tolerance {self.tolerance:g}")
            for row in self.rows:
                if row.ok:
                    continue
                line = (f"  {row.name}: {row.n_failed} of {row.n_checked} entries fail; "
                        f"worst at {row.index}: analytic {row.analytic:.6e}, "
                        f"numeric {row.numeric:.6e}, relative error {row.max_rel_error:.1e}")
                if abs(row.analytic) + abs(row.numeric) < self.tiny:
                    line += (f" (both values are below tiny = {self.tiny:g}: if the true "
                             f"gradient is 0 this is round-off; raise tiny)")
                lines.append(line)
        if self.kinks:
            lines.append(f"{len(self.kinks)} entries skipped at kinks, not counted as "
                         f"failures: between w - step and w + step a relu input h or a Huber "
                         f"residual r crossed its kink (h = 0, |r| = delta), where the loss "
                         f"is not smooth and the central difference does not estimate "
                         f"the derivative at w")
            for entry in self.kinks[:_KINKS_LISTED_IN_TEXT]:
                lines.append(f"  {entry.name} {entry.index}: analytic {entry.analytic:.6e}, "
                             f"numeric {entry.numeric:.6e}, kink crossed at {entry.crossed}")
            if len(self.kinks) > _KINKS_LISTED_IN_TEXT:
                lines.append(f"  ... and {len(self.kinks) - _KINKS_LISTED_IN_TEXT} more "
                             f"(report.kinks lists them all)")
        return lines


def _table(rows):
    """Fixed-width table, one line per tensor."""
    head = ["tensor", "shape", "checked", "worst rel.err", "at", "analytic", "numeric",
            "kinks", "ok"]
    body = []
    for row in rows:
        compared = row.index is not None
        body.append([row.name, str(row.shape), str(row.n_checked),
                     f"{row.max_rel_error:.1e}" if compared else "-",
                     str(row.index) if compared else "-",
                     f"{row.analytic:.6e}" if compared else "-",
                     f"{row.numeric:.6e}" if compared else "-",
                     str(row.n_kinks), "yes" if row.ok else "NO"])
    widths = [max(len(cells[c]) for cells in [head] + body) for c in range(len(head))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()
            for cells in [head] + body]
