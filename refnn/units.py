"""Single units of the lecture: the McCulloch-Pitts threshold unit, Rosenblatt's
perceptron and the sigmoid unit (logistic regression).

Notation: x input (d,), w weights (d,), b bias (the weight of a constant-1 input),
theta threshold, h weighted sum, g unit output, epsilon error term dE/dh, eta learning rate.
Batches are sample-major: X (n, d), y (n,).

Boundary: every public method validates what the user passed (shape, dtype, finiteness,
sample and feature counts) and raises ValueError/TypeError naming the argument, the
expected and the received value. ThresholdUnit and Perceptron are tiny integer-valued
rules computed with NumPy; SigmoidUnit trains through the compiled kernels in
refnn.kernels, which take only C-contiguous float32/float64 arrays. A fit that fails
leaves the fitted attributes of a previous fit unchanged: weights are trained in local
arrays and stored only at the end.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import kernels
from ._validate import all_finite, as_dtype, check_dim, finite_number, positive_int, positive_number

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ThresholdUnit", "Perceptron", "SigmoidUnit", "ConvergenceWarning", "NotFittedError"]


class ConvergenceWarning(UserWarning):
    """A training rule stopped before it converged."""


class NotFittedError(ValueError, AttributeError):
    """A method that needs learned weights was called before fit."""


# ---------------------------------------------------------------------------
# input validation (private; shared by the three units)
#
# Numbers, dtypes and feature counts go through refnn._validate. Arrays keep the checks
# below: their messages (the hint to reshape one sample, one label per sample, the count of
# non-finite values) are the units' own, and the tests pin them.
# ---------------------------------------------------------------------------

_REAL_KINDS = "biuf"   # bool, signed int, unsigned int, float
_KIND_NAMES = {"c": "complex numbers", "O": "Python objects", "U": "strings", "S": "bytes",
               "M": "datetimes", "m": "timedeltas", "V": "raw or structured records"}


def _as_real_array(name: str, a: ArrayLike) -> NDArray[Any]:
    """np.asarray(a), accepted only if it holds real numbers (bool, integer or float)."""
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{name} could not be converted to an array "
                        f"(received {type(a).__name__}): {exc}") from None
    if arr.dtype.kind not in _REAL_KINDS:
        what = _KIND_NAMES.get(arr.dtype.kind, "non-numeric values")
        raise TypeError(f"{name} must hold real numbers (bool, integer or float), "
                        f"got dtype {arr.dtype} ({what})")
    return arr


def _check_finite(name: str, arr: NDArray[Any]) -> None:
    if all_finite(arr):
        return
    finite = np.isfinite(arr)
    first = tuple(int(i) for i in np.argwhere(~finite)[0])
    n_bad = arr.size - int(np.count_nonzero(finite))
    raise ValueError(f"{name} must contain only finite values, got {n_bad} NaN or "
                     f"infinite value(s) (first at index {first}: {arr[first]})")


def _to_float(name: str, arr: NDArray[Any], dtype: DTypeLike) -> NDArray[Any]:
    """Finite, C-contiguous copy-if-needed of a real array in `dtype`."""
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got an array of shape {arr.shape}")
    if arr.dtype.kind == "f":
        _check_finite(name, arr)
    with np.errstate(over="ignore"):                      # reported just below
        out = np.ascontiguousarray(arr, dtype=dtype)
    if arr.dtype.kind == "f" and not all_finite(out):
        raise ValueError(f"{name} has values too large for {np.dtype(dtype).name} "
                         f"(largest magnitude {np.max(np.abs(arr))}); use dtype='float64'")
    return out


def _as_2d_float(name: str, X: ArrayLike, dtype: DTypeLike) -> NDArray[Any]:
    """X as a finite C-contiguous (n_samples, n_features) array of `dtype`."""
    arr = _as_real_array(name, X)
    if arr.ndim != 2:
        hint = "; pass one sample as X.reshape(1, -1)" if arr.ndim == 1 else ""
        raise ValueError(f"{name} must be a 2-D array of shape (n_samples, n_features), "
                         f"got a {arr.ndim}-D array of shape {arr.shape}{hint}")
    return _to_float(name, arr, dtype)


def _as_labels(name: str, y: ArrayLike, n_samples: int) -> NDArray[Any]:
    """y as a finite 1-D array of n_samples real labels; shape (n,) or (n, 1) accepted."""
    arr = _as_real_array(name, y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must have shape (n_samples,) or (n_samples, 1), "
                         f"got an array of shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(f"{name} must have one label per sample of X: expected "
                         f"{n_samples} labels, got {arr.shape[0]}")
    if arr.dtype.kind == "f":
        _check_finite(name, arr)
    return arr


def _as_binary_targets(name: str, y: ArrayLike, n_samples: int, dtype: DTypeLike) -> NDArray[Any]:
    """y in {0, 1} as a C-contiguous (n_samples, 1) array of `dtype`."""
    arr = _as_labels(name, y, n_samples)
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        raise ValueError(f"{name} must contain only the labels 0 and 1, "
                         f"got {np.unique(arr[bad])[:5].tolist()}")
    return np.ascontiguousarray(arr, dtype=dtype).reshape(-1, 1)


def _count(name: str, value: object) -> int:
    """An int >= 1: positive_int, with the range worded 'an integer >= 1'."""
    try:
        return positive_int(name, value)
    except ValueError:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}") from None


def _seed(seed: object) -> int | None:
    """None, or an int >= 0 for numpy.random.default_rng."""
    if seed is None:
        return None
    try:
        return positive_int("seed", seed, allow_zero=True)
    except ValueError:
        raise ValueError(f"seed must be None or an integer >= 0, got {seed!r}") from None


def _fitted_input(unit: Perceptron | SigmoidUnit, X: ArrayLike, dtype: DTypeLike) -> NDArray[Any]:
    """X for a fitted Perceptron or SigmoidUnit: 2-D, finite, with the fitted number of features."""
    coef = getattr(unit, "coef_", None)
    if coef is None:
        raise NotFittedError(f"this {type(unit).__name__} is not fitted yet; "
                             f"call fit(X, y) before using it")
    X = _as_2d_float("X", X, dtype)
    check_dim("X", X.shape[1], coef.shape[0], "features",
              f"the fitted {type(unit).__name__} expects {{expected}} features")
    return X


# ---------------------------------------------------------------------------
# the units
# ---------------------------------------------------------------------------

class ThresholdUnit:
    """McCulloch-Pitts unit:  g = 1 if sum_i w_i x_i >= theta else 0.

    Weighted sum measured from the threshold:  h = x . w - theta,  g = step(h) = [h >= 0].
    The weights and the threshold are set by hand; the unit does not learn.

    Shape:
        weights (d,);  X (n, d) -> g (n,) of 0/1 integers,  or one sample x (d,) -> int.

    Examples -- the lecture's logic gates on {0, 1} inputs:

    >>> inputs = [[0, 0], [0, 1], [1, 0], [1, 1]]
    >>> ThresholdUnit([1, 1], threshold=1.5).predict(inputs)     # AND
    array([0, 0, 0, 1])
    >>> ThresholdUnit([1, 1], threshold=0.5).predict(inputs)     # OR
    array([0, 1, 1, 1])
    >>> ThresholdUnit([-1], threshold=-0.5).predict([[0], [1]])  # NOT
    array([1, 0])
    >>> ThresholdUnit([1, 1], threshold=1.5).weighted_sum([1, 1])
    0.5

    No single unit computes XOR. XOR needs g(0,0) = 0, so 0 < theta; g(1,0) = g(0,1) = 1,
    so w_1 >= theta and w_2 >= theta; and g(1,1) = 0, so w_1 + w_2 < theta. The middle two
    give w_1 + w_2 >= 2 theta > theta, contradicting the last: the points with XOR = 1 are
    not separable from the others by a line.
    """

    def __init__(self, weights: ArrayLike, threshold: float = 0.0) -> None:
        arr = _as_real_array("weights", weights)
        if arr.ndim != 1:
            raise ValueError(f"weights must be a 1-D array of shape (n_inputs,), "
                             f"got an array of shape {arr.shape}")
        self.weights = _to_float("weights", arr, np.float64)                # w (d,)
        self.threshold = finite_number("threshold", threshold)              # theta

    def __repr__(self) -> str:
        return f"ThresholdUnit(weights={self.weights.tolist()}, threshold={self.threshold})"

    def _as_input(self, X: ArrayLike) -> NDArray[Any]:
        arr = _as_real_array("X", X)
        d = self.weights.shape[0]
        if arr.ndim not in (1, 2):
            raise ValueError(f"X must be one sample of shape ({d},) or a batch of shape "
                             f"(n_samples, {d}), got an array of shape {arr.shape}")
        hint = ("; for a batch of 1-feature samples pass shape (n_samples, 1)"
                if arr.ndim == 1 and d == 1 else "")
        check_dim("X", arr.shape[-1], d, "features", "the unit has {expected} weight(s)" + hint)
        return _to_float("X", arr, np.float64)

    def weighted_sum(self, X: ArrayLike) -> float | NDArray[Any]:
        """h = X w - theta:  (n,) for a batch, a float for one sample."""
        X = self._as_input(X)
        h = X @ self.weights - self.threshold
        return float(h) if h.ndim == 0 else h

    def predict(self, X: ArrayLike) -> int | NDArray[Any]:
        """g = [X w >= theta]:  (n,) 0/1 integers for a batch, an int for one sample."""
        X = self._as_input(X)
        g = (X @ self.weights >= self.threshold).astype(np.int64)
        return int(g) if g.ndim == 0 else g


class Perceptron:
    """Rosenblatt's perceptron: a threshold unit whose weights learn from mistakes.

    For each sample (x, y), in order (or shuffled every epoch if shuffle=True):
        yhat = step(w . x + b)          step(h) = 1 if h >= 0 else 0
        w <- w + eta (y - yhat) x
        b <- b + eta (y - yhat)          (b is the weight of a constant-1 input: b = -theta)
    Epochs repeat until one passes without a mistake (converged_ = True) or max_epochs
    is reached; then a ConvergenceWarning says the data may not be linearly separable.
    On linearly separable data the rule stops after finitely many mistakes (at most
    (R / gamma)^2 from zero weights, R the largest norm of (x, 1), gamma the margin).

    Labels: y must hold exactly two distinct real values (bool, integer or float). The
    smaller is class 0, the larger class 1 (so {-1, +1} and {False, True} work as
    {0, 1}); predict returns the original label values, stored in classes_.

    Initial weights: zero if seed is None; otherwise w and b start at small random values
    drawn from U(-0.05, 0.05) by numpy.random.default_rng(seed), which also draws the
    shuffling order.

    Attributes after fit:
        coef_ (d,) float64, intercept_ float, classes_ (2,), converged_ bool,
        n_epochs_ int, errors_ list of mistakes per epoch, n_features_in_ int.
    """

    def __init__(self, n_inputs: int | None = None, eta: float = 1.0, max_epochs: int = 100,
                 seed: int | None = None, shuffle: bool = False) -> None:
        self.n_inputs = None if n_inputs is None else _count("n_inputs", n_inputs)
        self.eta = positive_number("eta", eta)
        self.max_epochs = _count("max_epochs", max_epochs)
        self.seed = _seed(seed)
        if not isinstance(shuffle, (bool, np.bool_)):     # flag() would add the type name
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
        self.shuffle = bool(shuffle)
        self.coef_: NDArray[Any] | None = None                   # w (d,), set by fit

    def fit(self, X: ArrayLike, y: ArrayLike) -> Self:
        """Run the perceptron rule over (X, y) until an epoch makes no mistake."""
        X = _as_2d_float("X", X, np.float64)                                  # (n, d)
        n, d = X.shape
        if self.n_inputs is not None:
            check_dim("X", d, self.n_inputs, "features",
                      f"Perceptron(n_inputs={self.n_inputs}) expects {{expected}} features")
        labels = _as_labels("y", y, n)
        classes = np.unique(labels)
        if classes.shape[0] != 2:
            raise ValueError(f"y must contain exactly two distinct label values, got "
                             f"{classes.shape[0]}: {classes[:5].tolist()}")
        t = (labels == classes[1]).astype(np.float64)       # target in {0, 1}  (n,)

        rng = np.random.default_rng(self.seed)
        w: NDArray[np.float64]                              # (d,)
        if self.seed is None:
            w, b = np.zeros(d), 0.0
        else:
            w = rng.uniform(-0.05, 0.05, size=(d,))
            b = float(rng.uniform(-0.05, 0.05))
        eta = self.eta
        errors: list[int] = []
        for _ in range(self.max_epochs):
            order = rng.permutation(n) if self.shuffle else range(n)
            mistakes = 0
            for i in order:
                x = X[i]
                yhat = 1.0 if x @ w + b >= 0.0 else 0.0       # step(h)
                if yhat != t[i]:
                    w = w + eta * (t[i] - yhat) * x           # w <- w + eta (y - yhat) x
                    b = b + eta * (t[i] - yhat)               # b <- b + eta (y - yhat)
                    mistakes += 1
            errors.append(mistakes)
            if mistakes == 0:
                break

        self.coef_, self.intercept_ = w, float(b)
        self.classes_ = classes
        self.n_features_in_ = d
        self.errors_ = errors
        self.n_epochs_ = len(errors)
        self.converged_ = errors[-1] == 0
        if not self.converged_:
            warnings.warn(
                f"Perceptron did not converge in {self.max_epochs} epochs: {errors[-1]} of "
                f"{n} samples were still misclassified in the last epoch; the data may not "
                f"be linearly separable", ConvergenceWarning, stacklevel=2)
        return self

    def _checked_input(self, X: ArrayLike) -> NDArray[Any]:
        return _fitted_input(self, X, np.float64)

    def weighted_sum(self, X: ArrayLike) -> NDArray[Any]:
        """h = X w + b  (n,)"""
        X = self._checked_input(X)
        assert self.coef_ is not None                   # _checked_input: fitted
        return X @ self.coef_ + self.intercept_

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """classes_[step(X w + b)]  (n,), in the label values fit was given."""
        h = self.weighted_sum(X)
        return self.classes_[(h >= 0.0).astype(np.intp)]

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """Accuracy: the fraction of samples whose predicted label equals y."""
        X = self._checked_input(X)
        labels = _as_labels("y", y, X.shape[0])
        return float(np.mean(self.predict(X) == labels))


class SigmoidUnit:
    """Sigmoid unit = logistic regression:  yhat = sigma(w . x + b),  sigma(h) = 1 / (1 + e^-h).

    Training: full-batch gradient descent on the mean binary cross-entropy
        E(w, b) = 1/n sum_i [ -y_i log yhat_i - (1 - y_i) log(1 - yhat_i) ].
    Sigmoid and cross-entropy fuse into the error term epsilon_i = (yhat_i - y_i) / n
    (dE/dh_i, with the 1/n of the mean), so that each epoch
        dW = X^T epsilon,   db = sum_i epsilon_i,   w <- w - eta dW,   b <- b - eta db.
    Computed by the compiled kernels: dense_forward, sigmoid_binary_crossentropy,
    dense_backward and sgd_update.

    Initial weights: w drawn from U(-0.05, 0.05) by numpy.random.default_rng(seed)
    (shape (d,), drawn in float64, then cast to dtype), b = 0.

    Shape:
        X (n, d), y (n,) or (n, 1) in {0, 1}  ->  predict_proba (n,), predict (n,) 0/1.

    Attributes after fit:
        coef_ (d,) of dtype, intercept_ float, n_features_in_ int,
        loss_ list of the mean cross-entropy at the start of each epoch (before its update).
    """

    def __init__(self, eta: float = 0.1, epochs: int = 1000, seed: int | None = 0,
                 dtype: DTypeLike = "float64") -> None:
        self.eta = positive_number("eta", eta)
        self.epochs = _count("epochs", epochs)
        self.seed = _seed(seed)
        if dtype is None:                       # as_dtype would take None as float64
            raise TypeError("dtype must be 'float32' or 'float64', got None")
        self.dtype = as_dtype("dtype", dtype)
        self.coef_: NDArray[Any] | None = None                   # w (d,), set by fit

    def fit(self, X: ArrayLike, y: ArrayLike) -> Self:
        """Gradient descent on the mean binary cross-entropy for `epochs` full-batch steps."""
        X = _as_2d_float("X", X, self.dtype)                                 # g_prev (n, d)
        n, d = X.shape
        Y = _as_binary_targets("y", y, n, self.dtype)                        # (n, 1)

        rng = np.random.default_rng(self.seed)
        W = np.ascontiguousarray(rng.uniform(-0.05, 0.05, size=(d, 1)), dtype=self.dtype)
        b = np.zeros(1, dtype=self.dtype)                                    # (1,)
        eta = self.eta
        losses: list[float] = []
        for epoch in range(self.epochs):
            h = kernels.dense_forward(X, W, b)                     # h = X w + b          (n, 1)
            if not np.isfinite(h).all():
                raise FloatingPointError(f"the weighted sums overflowed in epoch {epoch + 1}; "
                                         f"scale X down or use a smaller eta (got {eta})")
            loss, epsilon = kernels.sigmoid_binary_crossentropy(h, Y)   # epsilon = yhat - y  (n, 1)
            losses.append(float(np.mean(loss, dtype=np.float64)))
            epsilon = epsilon / n                                  # error term of the mean loss
            dW, db, _ = kernels.dense_backward(X, W, epsilon)      # dW = X^T eps (d, 1), db (1,)
            W = kernels.sgd_update(W, dW, eta)                     # w <- w - eta dW  (in place)
            b = kernels.sgd_update(b, db, eta)                     # b <- b - eta db  (in place)
            if not (np.isfinite(W).all() and np.isfinite(b).all()):
                raise FloatingPointError(f"training diverged in epoch {epoch + 1}: the weights "
                                         f"overflowed; use a smaller eta (got {eta})")

        self.coef_ = W[:, 0].copy()
        self.intercept_ = float(b[0])
        self.n_features_in_ = d
        self.loss_ = losses
        return self

    def _checked_input(self, X: ArrayLike) -> NDArray[Any]:
        return _fitted_input(self, X, self.dtype)

    def _h(self, X: NDArray[Any]) -> NDArray[Any]:
        W = np.ascontiguousarray(self.coef_, dtype=self.dtype).reshape(-1, 1)   # (d, 1)
        b = np.array([self.intercept_], dtype=self.dtype)                        # (1,)
        return kernels.dense_forward(X, W, b)                                    # (n, 1)

    def weighted_sum(self, X: ArrayLike) -> NDArray[Any]:
        """h = X w + b  (n,)"""
        return self._h(self._checked_input(X))[:, 0]

    def predict_proba(self, X: ArrayLike) -> NDArray[Any]:
        """yhat = sigma(X w + b)  (n,), the probability of class 1."""
        h = self._h(self._checked_input(X))
        return kernels.activation_forward(h, "sigmoid")[:, 0]

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """[yhat >= 1/2] = [h >= 0]  (n,) 0/1 integers (decided on h, free of rounding in sigma)."""
        return (self.weighted_sum(X) >= 0).astype(np.int64)

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """Accuracy: the fraction of samples whose predicted 0/1 label equals y."""
        X = self._checked_input(X)
        Y = _as_binary_targets("y", y, X.shape[0], np.float64)
        return float(np.mean(self.predict(X) == Y[:, 0]))
