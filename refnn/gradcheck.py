"""Finite-difference checks of analytic gradients.

Backpropagation computes every partial derivative dL/dw of the loss at once. A finite
difference computes one of them, slowly and independently, from nothing but the loss:

    central difference    n = (L(w + step) - L(w - step)) / (2 step)

where only the one entry w[idx] is moved by +-step and every other weight stays put.
If the analytic gradient a = dL/dw[idx] from backpropagation and n agree for every entry,
the backward pass is right (up to the error of n itself).

How good is n?  Taylor expansion around w gives

    L(w +- step) = L +- step L' + step^2/2 L'' +- step^3/6 L''' + ...
    n            = L' + step^2/6 L''' + O(step^4)

so the truncation error is O(step^2); the even terms cancel. The one-sided difference
(L(w + step) - L(w)) / step keeps the step/2 L'' term and is only O(step) accurate, which
is why this module uses the central one. Against truncation stands round-off: each loss
value carries a relative error of about u (the unit round-off of the floating-point type),
and dividing their difference by 2 step turns it into an error of about u |L| / step.
The sum step^2/6 |L'''| + u |L| / step is smallest near step = (3 u |L / L'''|)^(1/3).
In float64 (u = 1.1e-16) that is about 1e-5, and at step = 1e-6 both errors are still
near 1e-10 |L|: relative errors of 1e-10 to 1e-7 for gradients of ordinary size, far
below a tolerance of 1e-6. In float32 (u = 6e-8) the round-off alone is u / step = 0.06
at the same step, and no step makes the total error much smaller than 1e-5: a float32
check cannot tell a right gradient from a slightly wrong one. Gradient checks therefore run in
float64 only; `gradcheck` converts a float32 model with its `astype` method or refuses it.

Agreement is measured by the relative error

    r = |a - n| / max(|a| + |n|, tiny)

which is scale-free for ordinary gradients; `tiny` keeps the quotient finite when both
values are zero. The finite difference itself carries round-off of about u |L| / step
(u = 2.2e-16: about 2e-10 for a loss of order 1 and step 1e-6), so an entry whose true
gradient is 0 or tiny cannot be judged relatively. The default tiny = 1e-3 judges entries
below 1e-3 in absolute terms, to tolerance * tiny = 1e-9: well above the round-off, far
below any real mistake (tests show a 0.1 % error in one tensor is caught).

Kinks. The Taylor argument needs L to be smooth between w - step and w + step. Two
pieces of a network are not:

- relu g = max(h, 0) bends at h = 0. If a weighted sum h lies within step (times
  |dh/dw|) of 0, one of w +- step sits on the other side, and n becomes the average of
  the two one-sided slopes, while the analytic gradient uses one of them (relu'(0) = 0
  by convention). The disagreement is O(1), a false failure.
- Huber's loss switches from r^2/2 to delta (|r| - delta/2) at |r| = delta. Its first
  derivative is continuous there but its second is not, so a step across the kink leaves
  an error of order step instead of step^2; with a tight tolerance that is again a false
  failure.

A model can name its kinks: `kink_signature` returns arrays that change exactly when a
kink is crossed (the masks h > 0 of every relu layer, |r| <= delta for Huber). When the
signature at w + step or at w - step differs from the one at w, the entry is recorded
as skipped at a kink, listed in the report and not counted as a failure.

Two entry points share one loop:

    check_function(f, params)   f(params) -> (loss, grads) on a list of float64 arrays
    gradcheck(model, X, Y)      a model with get_weights / set_weights / loss_and_gradients

Both return a GradcheckReport (refnn.gradcheck_report, re-exported here): report.ok,
report.max_rel_error, one row per tensor, and report.entries, every perturbed entry with its
analytic value, central difference and relative error.
"""

from __future__ import annotations

import inspect
import math
import numbers
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validate import as_array
from .gradcheck_report import GradcheckEntry, GradcheckReport, GradcheckRow

__all__ = ["gradcheck", "check_function", "GradcheckReport", "GradcheckRow", "GradcheckEntry"]


# ---------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------

# Entries checked per tensor unless asked otherwise: the largest gradient and 99 drawn with
# `seed`. A 784-128-10 network has 101,770 weights; checking all of them takes minutes.
DEFAULT_MAX_ENTRIES = 100
# Above this many entries in all, the check prints a line per tensor to stderr (progress="auto").
PROGRESS_AFTER = 2000

Params = list[NDArray[np.float64]]
# f(params) -> (loss, grads) and kink_signature(params) -> arrays, as check_function takes them
LossFunction = Callable[[Params], tuple[ArrayLike, Sequence[ArrayLike]]]
KinkSignature = Callable[[Params], Sequence[ArrayLike]]


def check_function(f: LossFunction, params: Sequence[ArrayLike], *, step: float = 1e-6,
                   tolerance: float = 1e-6, tiny: float = 1e-3,
                   kink_signature: KinkSignature | None = None,
                   names: Sequence[str] | None = None,
                   max_entries_per_tensor: int | None = DEFAULT_MAX_ENTRIES, seed: int = 0,
                   progress: bool | Literal["auto"] = "auto") -> GradcheckReport:
    """Compare the gradients returned by f with central differences of its loss.

    f(params) -> (loss, grads): params is a list of float64 arrays, grads a list of arrays
    of the same shapes with grads[t][idx] = d loss / d params[t][idx].
    kink_signature(params) -> list of arrays, optional: changes exactly when a kink
    (relu h = 0, Huber |r| = delta) is crossed; entries whose step crosses one are skipped.

    The arrays given are copied to float64 and only the copies are perturbed. For
    max_entries_per_tensor=k entries of each tensor (k = 100 by default: always the one with
    the largest |analytic| value and k - 1 others drawn with `seed`; None checks every entry):

        n = (L(w + step) - L(w - step)) / (2 step)
        r = |a - n| / max(|a| + |n|, tiny)          ok when r <= tolerance

    (2 step is taken as (w + step) - (w - step) in float64, the step actually made.)
    progress: True prints a line per tensor to stderr, False nothing, "auto" (the default)
    prints when more than PROGRESS_AFTER entries are checked in all.

    Returns a GradcheckReport (its rows say how many entries of each tensor were checked).
    """
    step, tolerance, tiny = _check_settings(step, tolerance, tiny)
    max_entries_per_tensor = _check_max_entries(max_entries_per_tensor)
    if not callable(f):
        raise TypeError(f"f must be callable as f(params) -> (loss, grads); "
                        f"received {type(f).__name__}")
    if kink_signature is not None and not callable(kink_signature):
        raise TypeError(f"kink_signature must be callable or None; "
                        f"received {type(kink_signature).__name__}")
    params = _as_float64_params(params)
    names = _check_names(names, len(params))
    return _check(f, params, names, step=step, tolerance=tolerance, tiny=tiny,
                  kink_signature=kink_signature, max_entries=max_entries_per_tensor,
                  seed=seed, progress=_check_progress(progress))


def gradcheck(model: Any, X: ArrayLike, Y: ArrayLike, *, step: float = 1e-6,
              tolerance: float = 1e-6, tiny: float = 1e-3,
              max_entries_per_tensor: int | None = DEFAULT_MAX_ENTRIES, seed: int = 0,
              names: Sequence[str] | None = None, progress: bool | Literal["auto"] = "auto",
              sample_weight: ArrayLike | None = None) -> GradcheckReport:
    """Check model.loss_and_gradients(X, Y) against central differences in float64.

    sample_weight (n,): check the weighted loss 1/n sum_i w_i l_i instead, through
    model.loss_and_gradients(X, Y, sample_weight=sample_weight) (refnn.weighting).

    The model provides get_weights() -> list of arrays, set_weights(list) and
    loss_and_gradients(X, Y) -> (loss, grads in get_weights() order); optionally
    kink_signature(X, Y) -> list of arrays (see check_function) and weight_names() ->
    list of str. Tensor names come from `names`, else weight_names(), else param0, ...
    max_entries_per_tensor, seed and progress as in check_function: 100 entries of each
    tensor by default, every entry with max_entries_per_tensor=None.

    A model whose dtype is not float64 is checked through model.astype("float64") (a
    copy; the report says so); without astype a ValueError asks for dtype="float64".
    The model's weights are restored exactly afterwards, also when the model raises.
    Returns a GradcheckReport (report.ok, report.max_rel_error, str(report) a table).
    """
    step, tolerance, tiny = _check_settings(step, tolerance, tiny)
    max_entries_per_tensor = _check_max_entries(max_entries_per_tensor)
    for method in ("get_weights", "set_weights", "loss_and_gradients"):
        if not callable(getattr(model, method, None)):
            raise TypeError(f"model must have a method {method}(); "
                            f"received a {type(model).__name__} without it")
    X = _as_float64_data("X", X)
    Y = _as_float64_data("Y", Y)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must have the same number of samples; "
                         f"received X with {X.shape[0]} and Y with {Y.shape[0]}")
    weighted: dict[str, ArrayLike] = {}
    if sample_weight is not None:
        if "sample_weight" not in inspect.signature(model.loss_and_gradients).parameters:
            raise TypeError(f"sample_weight was given, but {type(model).__name__}."
                            f"loss_and_gradients takes no sample_weight")
        weighted["sample_weight"] = sample_weight        # the model checks it, by name

    model, converted_from = _as_float64_model(model)
    weights = model.get_weights()
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"model.get_weights() must return a list of arrays; "
                        f"received {type(weights).__name__}")
    original = [np.array(w, copy=True) for w in weights]   # restored bit for bit at the end
    params = _as_float64_params(original, what="model.get_weights()")
    if names is None and callable(getattr(model, "weight_names", None)):
        names = list(model.weight_names())
        what = "model.weight_names()"
    else:
        what = "names"
    names = _check_names(names, len(params), what=what)

    def f(params: Params) -> tuple[ArrayLike, Sequence[ArrayLike]]:
        model.set_weights(params)
        return model.loss_and_gradients(X, Y, **weighted)

    def kinks(params: Params) -> Sequence[ArrayLike]:
        model.set_weights(params)
        return model.kink_signature(X, Y)

    has_kinks = callable(getattr(model, "kink_signature", None))
    try:
        report = _check(f, params, names, step=step, tolerance=tolerance, tiny=tiny,
                        kink_signature=kinks if has_kinks else None,
                        max_entries=max_entries_per_tensor,
                        seed=seed, progress=_check_progress(progress))
    finally:
        model.set_weights(original)
    report.converted_from = converted_from
    return report


def _check(f: LossFunction, params: Params, names: list[str], *, step: float,
           tolerance: float, tiny: float, kink_signature: KinkSignature | None,
           max_entries: int | None, seed: int, progress: bool | str = "auto"
           ) -> GradcheckReport:
    """The one loop: every selected entry of every tensor, perturbed by +-step in turn."""
    loss, analytic = _loss_and_grads(f, params)
    signature = None if kink_signature is None else _signature(kink_signature, params)
    rng = np.random.default_rng(seed)
    total = sum(min(w.size, max_entries or w.size) for w in params)
    if progress == "auto":
        progress = total > PROGRESS_AFTER
    started = time.perf_counter()

    rows: list[GradcheckRow] = []
    kinks: list[GradcheckEntry] = []
    failures: list[GradcheckEntry] = []
    entries: list[GradcheckEntry] = []
    for t, (name, w, a) in enumerate(zip(names, params, analytic)):
        worst: GradcheckEntry | None = None      # the compared entry with the largest r
        n_checked = n_kinks = n_failed = 0
        chosen = list(_entries_to_check(a, max_entries, rng))
        if progress:
            print(f"gradcheck: tensor {t + 1}/{len(params)} {name} {tuple(w.shape)}: "
                  f"{len(chosen):,} of {w.size:,} entries ({total:,} in all; "
                  f"{time.perf_counter() - started:.1f} s so far)", file=sys.stderr, flush=True)
        for idx in chosen:
            w_idx = w[idx]
            w_plus, w_minus = w_idx + step, w_idx - step
            if w_plus == w_minus:
                raise ValueError(f"step {step:g} is below the float64 resolution at "
                                 f"{name}{list(idx)} = {w_idx!r}: w + step == w - step")
            w[idx] = w_plus
            loss_plus = _loss_only(f, params)
            crossed_plus = _crossed(signature, kink_signature, params)
            w[idx] = w_minus
            loss_minus = _loss_only(f, params)
            crossed_minus = _crossed(signature, kink_signature, params)
            w[idx] = w_idx
            # divide by the step actually taken: w +- step is rounded to the nearest float64
            n = float((loss_plus - loss_minus) / (w_plus - w_minus))
            a_idx = float(a[idx])
            r = float(abs(a_idx - n) / max(abs(a_idx) + abs(n), tiny))
            if not math.isfinite(r):       # a NaN or inf on either side is a failure
                r = math.inf
            if crossed_plus or crossed_minus:
                side = "both" if crossed_plus and crossed_minus else (
                    "+step" if crossed_plus else "-step")
                kinks.append(GradcheckEntry(name, idx, a_idx, n, r, side))
                entries.append(kinks[-1])
                n_kinks += 1
                continue
            entry = GradcheckEntry(name, idx, a_idx, n, r)
            entries.append(entry)
            n_checked += 1
            if r > tolerance:
                failures.append(entry)
                n_failed += 1
            if worst is None or r > worst.rel_error:
                worst = entry
        rows.append(GradcheckRow(
            name=name, shape=tuple(int(s) for s in w.shape),
            max_rel_error=0.0 if worst is None else worst.rel_error,
            index=None if worst is None else worst.index,
            analytic=None if worst is None else worst.analytic,
            numeric=None if worst is None else worst.numeric,
            n_checked=n_checked, n_kinks=n_kinks, n_failed=n_failed, ok=n_failed == 0))
    return GradcheckReport(rows, kinks, failures, step=step, tolerance=tolerance, tiny=tiny,
                           loss=loss, entries=entries)


def _entries_to_check(a: NDArray[np.float64], max_entries: int | None,
                      rng: np.random.Generator) -> Iterator[tuple[int, ...]]:
    """Indices (tuples) of the entries to perturb, in C order.

    All entries, or max_entries of them: the entry with the largest |a| (a wrong gradient
    shows most clearly where it is large) and max_entries - 1 others drawn by rng.
    """
    size = a.size
    if max_entries is None or max_entries >= size:
        flat = np.arange(size)
    else:
        largest = int(np.argmax(np.abs(a)))          # a NaN counts as the largest
        others = np.delete(np.arange(size), largest)
        flat = np.sort(np.append(rng.choice(others, size=max_entries - 1, replace=False),
                                 largest))
    for i in flat:
        yield tuple(int(k) for k in np.unravel_index(int(i), a.shape))


def _loss_and_grads(f: LossFunction, params: Params) -> tuple[float, Params]:
    """The loss and the analytic gradients at the unperturbed parameters, validated."""
    result = f(params)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError("the loss function must return (loss, grads); "
                        f"received {type(result).__name__}")
    loss = _as_loss(result[0])
    if not math.isfinite(loss):
        raise ValueError(f"the loss at the unperturbed weights is {loss}; "
                         f"a gradient check needs a finite loss")
    grads = result[1]
    if not isinstance(grads, (list, tuple)) or len(grads) != len(params):
        n = len(grads) if isinstance(grads, (list, tuple)) else type(grads).__name__
        raise ValueError(f"the gradients must be a list of {len(params)} arrays, one per "
                         f"parameter tensor; received {n}")
    analytic = []
    for t, (g, w) in enumerate(zip(grads, params)):
        g = np.asarray(g)
        if g.shape != w.shape:
            raise ValueError(f"gradient {t} has shape {g.shape} but its parameter has "
                             f"shape {w.shape}")
        analytic.append(g.astype(np.float64))   # NaN entries stay and fail the check
    return loss, analytic


def _loss_only(f: LossFunction, params: Params) -> float:
    return _as_loss(f(params)[0])


def _as_loss(value: object) -> float:
    try:
        return float(np.asarray(value).reshape(()))
    except (TypeError, ValueError):
        raise TypeError(f"the loss must be a real scalar; received {value!r}") from None


def _signature(kink_signature: KinkSignature, params: Params) -> list[NDArray[Any]]:
    return [np.array(s, copy=True) for s in kink_signature(params)]


def _crossed(signature: list[NDArray[Any]] | None, kink_signature: KinkSignature | None,
             params: Params) -> bool:
    """True when the kink signature at params differs from the one at the unperturbed w
    (False without a kink signature)."""
    if signature is None or kink_signature is None:
        return False
    other = kink_signature(params)
    return len(other) != len(signature) or not all(
        np.array_equal(s, o) for s, o in zip(signature, other))


# ---------------------------------------------------------------------------------------
# Validation: name the argument, the expected and the received value
# ---------------------------------------------------------------------------------------

def _check_settings(step: object, tolerance: object, tiny: object
                    ) -> tuple[float, float, float]:
    return (_positive("step", step), _positive("tolerance", tolerance),
            _positive("tiny", tiny))


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive real number; "
                        f"received {type(value).__name__} {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number; received {value!r}")
    return value


def _check_progress(progress: object) -> bool | str:
    if progress != "auto" and not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True, False or 'auto'; received {progress!r}")
    return "auto" if progress == "auto" else bool(progress)


def _check_max_entries(k: object) -> int | None:
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"max_entries_per_tensor must be a positive integer or None; "
                        f"received {type(k).__name__} {k!r}")
    if k < 1:
        raise ValueError(f"max_entries_per_tensor must be at least 1; received {k}")
    return int(k)


def _check_names(names: Sequence[object] | None, n_tensors: int, what: str = "names"
                 ) -> list[str]:
    if names is None:
        return [f"param{t}" for t in range(n_tensors)]
    checked = [str(name) for name in names]
    if len(checked) != n_tensors:
        raise ValueError(f"{what} must give one name per parameter tensor: expected "
                         f"{n_tensors}, received {len(checked)}")
    return checked


def _as_float64_params(params: object, what: str = "params") -> Params:
    """Float64 copies of the parameter tensors; they are the arrays that get perturbed."""
    if isinstance(params, np.ndarray) or not isinstance(params, (list, tuple)):
        raise TypeError(f"{what} must be a list of arrays; received {type(params).__name__}")
    if len(params) == 0:
        raise ValueError(f"{what} is empty: there is no parameter to check")
    copies = []
    for t, p in enumerate(params):
        p = np.asarray(p)
        if p.dtype.kind not in "biuf":
            raise TypeError(f"{what}[{t}] must be a real numeric array; "
                            f"received dtype {p.dtype}")
        p = np.array(p, dtype=np.float64, copy=True)
        if not np.all(np.isfinite(p)):
            raise ValueError(f"{what}[{t}] contains NaN or inf")
        copies.append(p)
    return copies


def _as_float64_data(name: str, A: ArrayLike) -> NDArray[np.float64]:
    A = as_array(name, A, dtype=np.float64, allow_empty=True)
    if A.ndim == 0:
        raise ValueError(f"{name} must have a sample axis; received a scalar")
    if A.size == 0:
        raise ValueError(f"{name} is empty (shape {A.shape}); a gradient check needs samples")
    return A


def _as_float64_model(model: Any) -> tuple[Any, str | None]:
    """The model itself if it computes in float64, else a float64 copy made by astype.

    The dtype is the model's `dtype` attribute, or, without one, that of its weights.
    Returns (model, the dtype converted from or None).
    """
    dtype = getattr(model, "dtype", None)
    if dtype is None:
        kinds = {np.asarray(w).dtype for w in model.get_weights()}
        dtype = next((k for k in kinds if k.kind == "f" and k != np.float64), None)
        if dtype is None:
            return model, None
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return model, None
    if not callable(getattr(model, "astype", None)):
        raise ValueError(f"gradcheck needs a model that computes in float64; received a "
                         f"{type(model).__name__} with dtype {dtype}: build the model with "
                         f'dtype="float64"')
    copy = model.astype("float64")
    copy_dtype = getattr(copy, "dtype", None)
    if copy_dtype is not None and np.dtype(copy_dtype) != np.float64:
        raise ValueError(f'model.astype("float64") returned a model with dtype '
                         f'{np.dtype(copy_dtype)}; build the model with dtype="float64"')
    return copy, str(dtype)
