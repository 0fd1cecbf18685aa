"""The lecture's single units as scikit-learn classifiers (two classes).

PerceptronClassifier wraps refnn.units.Perceptron (Rosenblatt's rule, w <- w + eta (y - yhat) x),
SigmoidUnitClassifier wraps refnn.units.SigmoidUnit (logistic regression by full-batch gradient
descent on the mean binary cross-entropy). The units do the computing; this module adds
scikit-learn's conventions: any two labels (strings too: classes_ holds them, the unit sees 0/1),
random_state for the seed, fitted attributes set by fit only, and estimator tags.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .. import units

if TYPE_CHECKING:
    from typing_extensions import Self


def _binary_targets(estimator, y):
    """y -> 0/1 floats; classes_ the two labels (sorted), as scikit-learn's classifiers."""
    kind = type_of_target(y)
    if kind not in ("binary", "multiclass"):
        raise ValueError(f"Unknown label type: y must hold two class labels, got target "
                         f"type {kind!r}")
    classes = np.unique(y)
    if classes.shape[0] > 2:
        raise ValueError(f"Only binary classification is supported (a single unit separates "
                         f"two classes); y holds {classes.shape[0]} classes: "
                         f"{classes[:5].tolist()}")
    if classes.shape[0] < 2:
        raise ValueError(f"y must hold 2 classes, got 1 class: {classes.tolist()}")
    estimator.classes_ = classes
    return (y == classes[1]).astype(np.float64)


class _UnitClassifier(ClassifierMixin, BaseEstimator):
    def fit(self, X: ArrayLike, y: ArrayLike) -> Self:
        X, y = validate_data(self, X, y, dtype=np.float64)
        y = column_or_1d(y, warn=True)
        t = _binary_targets(self, y)                      # targets in {0, 1}  (n,)
        self.unit_ = self._new_unit()
        self.unit_.fit(X, t)
        self.coef_ = np.asarray(self.unit_.coef_, dtype=np.float64).reshape(1, -1)   # (1, d)
        self.intercept_ = np.array([self.unit_.intercept_], dtype=np.float64)         # (1,)
        return self

    def decision_function(self, X: ArrayLike) -> NDArray[Any]:
        """h = X w + b  (n,)"""
        check_is_fitted(self, "unit_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.unit_.weighted_sum(X)

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """classes_[1] where h >= 0, else classes_[0]."""
        check_is_fitted(self, "unit_")
        return self.classes_[(self.decision_function(X) >= 0).astype(np.intp)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


class PerceptronClassifier(_UnitClassifier):
    """Rosenblatt's perceptron (refnn.units.Perceptron) as a scikit-learn classifier.

    eta, max_epochs and shuffle as the unit's; random_state seeds the initial weights and the
    shuffling (None: zero initial weights, as the unit with seed=None). Fitted: classes_, coef_
    (1, d), intercept_ (1,), n_features_in_, unit_ (the trained Perceptron, with errors_,
    n_epochs_, converged_). Not separable in max_epochs: the unit's ConvergenceWarning."""

    def __init__(self, eta: float = 1.0, max_epochs: int = 100, shuffle: bool = False,
                 random_state: int | None = None) -> None:
        self.eta = eta
        self.max_epochs = max_epochs
        self.shuffle = shuffle
        self.random_state = random_state

    def _new_unit(self):
        return units.Perceptron(eta=self.eta, max_epochs=self.max_epochs,
                                seed=self.random_state, shuffle=self.shuffle)


class SigmoidUnitClassifier(_UnitClassifier):
    """A sigmoid unit, yhat = sigma(w . x + b) (refnn.units.SigmoidUnit: logistic regression by
    full-batch gradient descent), as a scikit-learn classifier with predict_proba.

    eta, epochs and dtype as the unit's; random_state is its seed (None: 0, the unit's
    default). Fitted: classes_, coef_ (1, d), intercept_ (1,), n_features_in_, unit_ (with
    loss_, the cross-entropy per epoch)."""

    def __init__(self, eta: float = 0.1, epochs: int = 1000, random_state: int | None = None,
                 dtype: str = "float64") -> None:
        self.eta = eta
        self.epochs = epochs
        self.random_state = random_state
        self.dtype = dtype

    def _new_unit(self):
        seed = 0 if self.random_state is None else self.random_state
        return units.SigmoidUnit(eta=self.eta, epochs=self.epochs, seed=seed, dtype=self.dtype)

    def predict_proba(self, X: ArrayLike) -> NDArray[Any]:
        """[1 - yhat, yhat]  (n, 2), yhat = sigma(X w + b) the probability of classes_[1]."""
        check_is_fitted(self, "unit_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        p = np.asarray(self.unit_.predict_proba(X), dtype=np.float64)
        return np.column_stack([1 - p, p])


__all__ = ["PerceptronClassifier", "SigmoidUnitClassifier"]
