"""MLPClassifier and MLPRegressor: scikit-learn's estimators, trained by refnn.

Parameters keep scikit-learn's names and meanings where they overlap (hidden_layer_sizes,
activation, solver, alpha, batch_size, learning_rate_init, momentum, nesterovs_momentum,
max_iter, tol, n_iter_no_change, early_stopping, validation_fraction, random_state,
warm_start, shuffle, verbose, beta_1, beta_2, epsilon, max_fun); dtype and threads are
refnn's own (threads: refnn's threads for training, None for refnn's setting,
refnn.get_num_threads(); the weights are the same for any number).

The network is a refnn Sequential of Dense layers. The L2 penalty is scikit-learn's,
    E_alpha(w) = E(w) + alpha / (2 n) sum_l ||W_l||^2      (n the samples in the batch; kernels
                                                           only, not the biases),
so its gradient adds alpha W_l / n to each kernel's gradient. adam and sgd train on refnn's
compiled step (kernels.DenseTrainer), the penalty's gradient fused into it, on refnn's threads;
lbfgs runs the optimizer LBFGS's minimize over all samples, on the layer-by-layer gradient.

Losses as scikit-learn's: log-loss (softmax + categorical cross-entropy, or one sigmoid unit
+ binary cross-entropy for two classes) and half the squared error for regression (Keras's
mse is the mean of (yhat - y)^2 over the outputs, so its gradient is scaled by k / 2 to give
scikit-learn's (yhat - y) / n per output).
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .. import kernels
from .._validate import TrainingDivergedError, int_between
from ..kernels.threads import MAX_THREADS, chosen_num_threads, num_threads
from ..layers import Dense
from ..model import Sequential
from ..optimizers import LBFGS, SGD, Adam

if TYPE_CHECKING:
    from typing_extensions import Self

# scikit-learn's activation names -> refnn's
ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
SOLVERS = ("adam", "sgd", "lbfgs")


class _CompiledEpoch:
    """scikit-learn's stochastic epoch on refnn's compiled step (kernels.DenseTrainer): per
    batch of m samples, the loss's gradient, the penalty's (alpha / m) W on each kernel, and the
    optimizer's update (Adam or SGD), in one compiled call on refnn's threads. scikit-learn's
    squared-error gradient, (yhat - y) / m per output, is k / 2 times Keras's mse's: each sample
    weighs k / 2; its reported loss is half the mean over the outputs (Keras's mse / 2). An
    update that would leave NaN or infinity puts back the epoch's start and
    raises TrainingDivergedError."""

    def __init__(self, model, X, Y, batch, loss, alpha):
        self.model, self.alpha = model, float(alpha)
        layers = model.layers
        self.weights = [w for layer in layers for w in (layer.W, layer.b)]
        activations = [layer.activation for layer in layers]
        k = Y.shape[1]
        weight, self.loss_scale = None, 1.0
        if loss == "mse":
            self.loss_scale = 1 / k                  # (k / 2) mse -> mse / 2
            if k != 2:
                weight = np.full(X.shape[0], k / 2, dtype=X.dtype)
        kind = model.loss.compiled_kind(activations[-1])     # the loss's fused output pair
        self.trainer = kernels.DenseTrainer(self.weights, X, Y, activations, kind, batch,
                                            sample_weight=weight)
        self.optimizer = model.optimizer
        self.optimizer.build(self.weights)
        self.trainer.set_update(*self.optimizer.fused_rule())
        self.batch = batch

    def epoch(self, order):
        """One pass over the samples in `order`; returns the sum over batches of each batch's
        E_alpha times its size (scikit-learn's loss_ times n)."""
        saved = [w.copy() for w in self.weights], self.optimizer.get_state()
        total = 0.0
        for start in range(0, order.shape[0], self.batch):
            idx = order[start:start + self.batch]
            m = idx.shape[0]
            # the penalty (alpha / 2m) ||W||^2 on each kernel: its gradient (alpha / m) W, and
            # its value, of the weights before the update, both from the step
            penalty = [(0.0, self.alpha / m), (0.0, 0.0)] * (len(self.weights) // 2)
            self.trainer.step(idx, scalars=self.optimizer.fused_scalars(), penalty=penalty)
            if not (self.trainer.updated and self.trainer.update_finite):
                for w, before in zip(self.weights, saved[0]):
                    w[...] = before
                self.optimizer.set_state(saved[1])
                raise TrainingDivergedError(
                    f"the loss or the update overflowed (loss {self.trainer.mean_loss}); the "
                    f"weights are those of the epoch's start (try a smaller "
                    f"learning_rate_init)")
            self.optimizer.iterations += 1
            total += (self.trainer.mean_loss * self.loss_scale + self.trainer.penalty) * m
        return total


class _BaseMLP(BaseEstimator):
    def __init__(self, hidden_layer_sizes: int | Sequence[int] = (100,), activation: str = "relu",
                 *, solver: str = "adam", alpha: float = 0.0001, batch_size: int | str = "auto",
                 learning_rate_init: float = 0.001, max_iter: int = 200, shuffle: bool = True,
                 random_state: int | np.random.RandomState | None = None, tol: float = 1e-4,
                 verbose: bool = False, warm_start: bool = False, momentum: float = 0.9,
                 nesterovs_momentum: bool = True, early_stopping: bool = False,
                 validation_fraction: float = 0.1, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, n_iter_no_change: int = 10, max_fun: int = 15000,
                 dtype: str = "float64", threads: int | None = None) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.threads = threads

    # ------------------------------------------------------------ checks
    def _check_params(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if np.isscalar(sizes) else list(sizes)
        if any(not isinstance(s, (int, np.integer)) or s <= 0 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got "
                             f"{self.hidden_layer_sizes!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got "
                             f"{self.activation!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        for name in ("alpha", "tol"):
            if not np.isscalar(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a number >= 0, got {getattr(self, name)!r}")
        for name in ("learning_rate_init", "max_iter", "n_iter_no_change", "max_fun"):
            if not np.isscalar(getattr(self, name)) or getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a number > 0, got {getattr(self, name)!r}")
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto") and not (
                isinstance(self.batch_size, (int, np.integer)) and self.batch_size > 0):
            raise ValueError(f"batch_size must be 'auto' or a positive integer, got "
                             f"{self.batch_size!r}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got "
                             f"{self.validation_fraction!r}")
        if self.dtype not in ("float32", "float64", np.float32, np.float64):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.threads is not None:
            int_between("threads", self.threads, low=1, high=MAX_THREADS)
        return [int(s) for s in sizes]

    # ------------------------------------------------------------ the network
    def _new_model(self, n_features, n_outputs, rng):
        sizes = self._check_params()
        act = ACTIVATIONS[self.activation]
        layers = [Dense(sizes[0], activation=act, input_shape=(n_features,))]
        layers += [Dense(s, activation=act) for s in sizes[1:]]
        layers.append(Dense(n_outputs, activation=self._output_activation(n_outputs)))
        model = Sequential(layers, seed=int(rng.randint(np.iinfo(np.int32).max)),
                           dtype=np.dtype(self.dtype).name)
        model.compile(loss=self._loss_name(n_outputs), optimizer=self._new_optimizer())
        return model

    def _new_optimizer(self):
        if self.solver == "adam":
            return Adam(learning_rate=self.learning_rate_init, beta_1=self.beta_1,
                        beta_2=self.beta_2, epsilon=self.epsilon)
        if self.solver == "sgd":
            return SGD(learning_rate=self.learning_rate_init, momentum=self.momentum,
                       nesterov=bool(self.nesterovs_momentum) and self.momentum > 0)
        return LBFGS(max_iterations=int(self.max_iter), tolerance=self.tol,
                     max_function_evals=int(self.max_fun))

    def _loss_and_gradients(self, X, Y):
        """E_alpha and its gradients in get_weights() order (scikit-learn's loss and penalty)."""
        model = self.model_
        loss, grads = model.loss_and_gradients(X, Y)
        k = Y.shape[1]
        if self._loss_name(k) == "mse":          # Keras's mean over outputs -> sklearn's half
            loss, grads = loss / 2, [g * (k / 2) for g in grads]
        n = X.shape[0]
        penalty = 0.0
        for i, W in enumerate(model.weights):
            if i % 2 == 0:                       # kernels (fan_in, units); biases unpenalised
                penalty += float(np.sum(W.astype(np.float64) ** 2))
                grads[i] = grads[i] + (self.alpha / n) * W        # dE_alpha/dW = ... + alpha W / n
        return loss + 0.5 * self.alpha * penalty / n, grads

    # ------------------------------------------------------------ fit
    def _fit(self, X, Y, rng, incremental):
        """Train self.model_ on (X, Y) (Y 2-D, of the model's dtype), on `threads` of refnn's
        threads (None: refnn's setting; on the default, each step on the count the trainer's
        probe chose); the result is the same for any number."""
        self._check_params()
        with num_threads(self.threads if self.threads is not None else chosen_num_threads()):
            return self._fit_on_threads(X, Y, rng, incremental)

    def _fit_on_threads(self, X, Y, rng, incremental):
        first = not hasattr(self, "loss_curve_") or not (self.warm_start or incremental)
        if first:
            self.loss_curve_ = []
            self.best_loss_ = np.inf
            self._no_improvement_count = 0
            self.n_iter_ = 0
            self.t_ = 0
            self.validation_scores_ = [] if self.early_stopping else None
            self.best_validation_score_ = -np.inf if self.early_stopping else None
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, Y)
        else:
            self._fit_stochastic(X, Y, rng, incremental)
        self.coefs_ = [W.copy() for W in self.model_.get_weights()[0::2]]
        self.intercepts_ = [b.copy() for b in self.model_.get_weights()[1::2]]
        self.n_layers_ = len(self.coefs_) + 1
        self.n_outputs_ = Y.shape[1]
        self.out_activation_ = {"sigmoid": "logistic", "linear": "identity",
                                "softmax": "softmax"}[self._output_activation(Y.shape[1])]
        return self

    def _compiled_step(self, X, Y, batch):
        """The epoch on refnn's compiled step (_CompiledEpoch), as refnn's fit trains."""
        return _CompiledEpoch(self.model_, X, Y, batch, self._loss_name(Y.shape[1]),
                              self.alpha)

    def _fit_lbfgs(self, X, Y):
        model = self.model_
        shapes = [w.shape for w in model.get_weights()]
        sizes = [int(np.prod(s)) for s in shapes]

        def unpack(x):
            return [part.reshape(s) for part, s in zip(np.split(x, np.cumsum(sizes)[:-1]), shapes)]

        def fun(x):
            model.set_weights(unpack(x))
            loss, grads = self._loss_and_gradients(X, Y)
            return loss, np.concatenate([g.ravel() for g in grads]).astype(np.float64)

        x0 = np.concatenate([w.ravel() for w in model.get_weights()]).astype(np.float64)
        x, info = model.optimizer.minimize(fun, x0)
        model.set_weights(unpack(x))
        self.n_iter_ = info["n_iterations"]
        self.loss_ = info["loss"]
        self.loss_curve_ = None
        self.best_loss_ = None
        if not info["success"] and self.n_iter_ >= self.max_iter:
            warnings.warn(f"lbfgs failed to converge after {self.n_iter_} iterations: "
                          f"{info['stop_reason']}", ConvergenceWarning, stacklevel=3)

    def _fit_stochastic(self, X, Y, rng, incremental):
        model = self.model_
        X_val = Y_val = None
        if self.early_stopping and not incremental:
            stratify = Y if isinstance(self, ClassifierMixin) and Y.shape[1] == 1 else None
            X, X_val, Y, Y_val = train_test_split(
                X, Y, random_state=rng.randint(np.iinfo(np.int32).max),
                test_size=self.validation_fraction, stratify=stratify)
        n = X.shape[0]
        batch = min(200, n) if self.batch_size == "auto" else int(np.clip(self.batch_size, 1, n))
        best_weights = None
        step = self._compiled_step(X, Y, batch)
        for _ in range(1 if incremental else int(self.max_iter)):
            order = (rng.permutation(n) if self.shuffle else np.arange(n)).astype(np.intp)
            total = step.epoch(order)
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = total / n
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            # scikit-learn's stopping rule: no improvement by tol for n_iter_no_change epochs
            if X_val is not None:
                score = self._score_prepared(X_val, Y_val)
                self.validation_scores_.append(score)
                improved = score > self.best_validation_score_ + self.tol
                if score > self.best_validation_score_:
                    self.best_validation_score_ = score
                    best_weights = model.get_weights()
            else:
                improved = self.loss_ < self.best_loss_ - self.tol
            self.best_loss_ = min(self.best_loss_, self.loss_)
            self._no_improvement_count = 0 if improved else self._no_improvement_count + 1
            if incremental:
                break
            if self._no_improvement_count > self.n_iter_no_change:
                break
        else:
            if not incremental:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                              f"reached and the optimization hasn't converged yet.",
                              ConvergenceWarning, stacklevel=3)
        if best_weights is not None:
            model.set_weights(best_weights)
        if self.early_stopping:
            self.best_loss_ = None

    def _prepare_fit(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, multi_output=True, y_numeric=False,
                             dtype=(np.float64, np.float32))
        if y.ndim == 2 and y.shape[1] == 1:      # as scikit-learn: a column becomes 1-D, warned
            y = column_or_1d(y, warn=True)
        return np.ascontiguousarray(X, dtype=np.dtype(self.dtype)), y

    def _start(self, X, n_outputs, incremental):
        """The random state of this fit, and a new network unless training continues."""
        if not hasattr(self, "_rng") or not (self.warm_start or incremental):
            self._rng = check_random_state(self.random_state)
        rng = self._rng
        keep = (self.warm_start or incremental) and hasattr(self, "model_")
        if keep and self.model_.get_weights()[-1].shape[0] != n_outputs:
            raise ValueError(f"warm_start or partial_fit: y has {n_outputs} outputs, the "
                             f"network was built for {self.model_.get_weights()[-1].shape[0]}")
        if not keep:
            self.model_ = self._new_model(X.shape[1], n_outputs, rng)
        return rng

    def _forward(self, X):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        X = np.ascontiguousarray(X, dtype=np.dtype(self.dtype))
        return self.model_.predict(X, batch_size=max(1, X.shape[0]))

    def export(self, path: str | os.PathLike[str], format: str = "onnx") -> Any:
        """The trained network for inference (refnn.Sequential.export): its output is the
        predicted probabilities (classifier: one sigmoid unit for two classes, else softmax)
        or values (regressor)."""
        check_is_fitted(self, "model_")
        return self.model_.export(path, format=format)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier (scikit-learn's MLPClassifier, trained by refnn).

    Two classes: one sigmoid output unit and binary cross-entropy; more: softmax and
    categorical cross-entropy (the fused error epsilon = yhat - y in both). Fitted attributes
    as scikit-learn's: classes_, coefs_, intercepts_, n_iter_, loss_, loss_curve_, best_loss_,
    n_features_in_, feature_names_in_ (for a DataFrame with string column names), plus model_,
    the trained refnn Sequential (model_.export, model_.summary, ...).
    """

    def _output_activation(self, n_outputs):
        return "sigmoid" if n_outputs == 1 else "softmax"

    def _loss_name(self, n_outputs):
        return "binary_crossentropy" if n_outputs == 1 else "categorical_crossentropy"

    def _targets(self, y, classes=None, reset=True):
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"Unknown label type: y must hold binary or multiclass labels, "
                             f"got target type "
                             f"{kind!r}")
        if reset:
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if classes is None else classes)
            self.classes_ = self._label_binarizer.classes_
        elif not set(unique_labels(y)) <= set(self.classes_):
            raise ValueError(f"y holds labels not in classes_ {self.classes_.tolist()}: "
                             f"{sorted(set(unique_labels(y)) - set(self.classes_))}")
        if len(self.classes_) < 2:
            raise ValueError(f"y must hold at least 2 classes, got 1 class: "
                             f"{self.classes_.tolist()}")
        return self._label_binarizer.transform(y).astype(np.dtype(self.dtype))

    def fit(self, X: ArrayLike, y: ArrayLike) -> Self:
        """Train on (X, y) for up to max_iter epochs (continues from the last fit if
        warm_start=True)."""
        incremental = False
        X, y = self._prepare_fit(X, y, reset=not (self.warm_start and hasattr(self, "model_")))
        Y = self._targets(y, reset=not (self.warm_start and hasattr(self, "classes_")))
        rng = self._start(X, Y.shape[1], incremental)
        return self._fit(X, Y, rng, incremental)

    def partial_fit(self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None) -> Self:
        """One epoch over (X, y); classes (all labels) is required on the first call."""
        if self.solver == "lbfgs":
            raise AttributeError("partial_fit is only available for stochastic solvers "
                                 "('sgd', 'adam'), got solver='lbfgs'")
        first = not hasattr(self, "model_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        X, y = self._prepare_fit(X, y, reset=first)
        Y = self._targets(y, classes=classes, reset=first)
        rng = self._start(X, Y.shape[1], incremental=True)
        return self._fit(X, Y, rng, incremental=True)

    def _score_prepared(self, X, Y):
        yhat = self.model_.predict(X, batch_size=max(1, X.shape[0]))
        if Y.shape[1] == 1:
            return accuracy_score(Y[:, 0] > 0.5, yhat[:, 0] >= 0.5)
        return accuracy_score(np.argmax(Y, axis=1), np.argmax(yhat, axis=1))

    def predict_proba(self, X: ArrayLike) -> NDArray[Any]:
        """Class probabilities (n, n_classes), columns in classes_ order."""
        yhat = self._forward(X)
        if yhat.shape[1] == 1:
            return np.hstack([1 - yhat, yhat])
        return yhat

    def predict_log_proba(self, X: ArrayLike) -> NDArray[Any]:
        return np.log(self.predict_proba(X))

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """The most probable class of each sample, in the labels fit was given."""
        check_is_fitted(self, "model_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor (scikit-learn's MLPRegressor, trained by refnn).

    Linear output units; the loss is half the mean squared error, as scikit-learn's. Fitted
    attributes as MLPClassifier's (without classes_)."""

    def _output_activation(self, n_outputs):
        return "linear"

    def _loss_name(self, n_outputs):
        return "mse"

    def _targets(self, y):
        y = np.asarray(y, dtype=np.float64)
        self._y_1d = y.ndim == 1
        return np.ascontiguousarray(y.reshape(y.shape[0], -1), dtype=np.dtype(self.dtype))

    def fit(self, X: ArrayLike, y: ArrayLike) -> Self:
        """Train on (X, y) for up to max_iter epochs (continues if warm_start=True)."""
        X, y = self._prepare_fit(X, y, reset=not (self.warm_start and hasattr(self, "model_")))
        Y = self._targets(y)
        rng = self._start(X, Y.shape[1], incremental=False)
        return self._fit(X, Y, rng, incremental=False)

    def partial_fit(self, X: ArrayLike, y: ArrayLike) -> Self:
        """One epoch over (X, y)."""
        if self.solver == "lbfgs":
            raise AttributeError("partial_fit is only available for stochastic solvers "
                                 "('sgd', 'adam'), got solver='lbfgs'")
        X, y = self._prepare_fit(X, y, reset=not hasattr(self, "model_"))
        Y = self._targets(y)
        rng = self._start(X, Y.shape[1], incremental=True)
        return self._fit(X, Y, rng, incremental=True)

    def _score_prepared(self, X, Y):
        return r2_score(Y, self.model_.predict(X, batch_size=max(1, X.shape[0])))

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """yhat (n,) for a 1-D y in fit, else (n, k)."""
        yhat = self._forward(X)
        return yhat[:, 0] if self._y_1d else yhat
