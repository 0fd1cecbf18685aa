"""The mini-batch training step of a dense network, in one compiled call (src_c/_train.pyx)."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._dispatch import _optimizers, _train
from .._validate import (NonFiniteError, as_array, check_dim, check_same_samples, choice,
                         positive_int, positive_number)
from ..update_rules import RULES, Rule
from . import threads as _threads
from . import activation_code, check_weights, DIFFERENTIABLE
from ._arrays import _ready, aligned_empty, refuse_overlap, staggered_like
from .blas import TRAINERS, check_blas_sizes
from .updates import _rule


class DenseTrainer:
    """The mini-batch step of a stack of Dense layers in one compiled call (src_c/_train.pyx):
    gather, forward, fused output error, backward; the gradients land in `grads`.

    Checked once here (weights, data, activations, loss); then `step(order)` runs batch after
    batch with no per-batch checks and no allocation: the work buffers are made once.

    weights   [W1, b1, ...] C-contiguous, one float dtype, sizes that chain
    X, Y      the data set (n, n_0) and targets (n, n_L) in that dtype, finite
    activations  the layers' activation names (softmax only last, with "softmax_crossentropy")
    loss      "softmax_crossentropy", "sigmoid_binary_crossentropy" or "mean_squared_error"
    sample_weight  (n,) each sample's weight w_i >= 0 in the loss, or None: the batch's loss is
              then (1/m) sum_i w_i loss_i (Keras's sum over the batch size), and its gradient
    """

    CLIPS = {"value": _train.CLIP_VALUE, "norm": _train.CLIP_NORM,
             "global_norm": _train.CLIP_GLOBAL_NORM}    # step(clip=(kind, c)): Keras's clipping

    PHASES = _train.PHASES            # what phase_seconds() reports, in the order they run

    LOSSES = {"softmax_crossentropy": _train.SOFTMAX_CROSSENTROPY,
              "sigmoid_binary_crossentropy": _train.SIGMOID_BINARY_CROSSENTROPY,
              "mean_squared_error": _train.MEAN_SQUARED_ERROR}

    def __init__(self, weights: Sequence[NDArray[Any]], X: ArrayLike, Y: ArrayLike,
                 activations: Sequence[str], loss: str, batch_size: int,
                 sample_weight: ArrayLike | None = None) -> None:
        self.loss_code = self.LOSSES[choice("loss", loss, self.LOSSES)]
        dtype = weights[0].dtype if weights and isinstance(weights[0], np.ndarray) else None
        sizes = check_weights(weights, dtype)
        for i, w in enumerate(weights):
            if not (w.flags.c_contiguous and w.flags.writeable and w.flags.aligned):
                raise ValueError(f"weights[{i}] must be C-contiguous, aligned and writable")
        if len(activations) != len(sizes) - 1:
            raise ValueError(f"activations has {len(activations)} names for "
                             f"{len(sizes) - 1} layers")
        codes = [activation_code(a, DIFFERENTIABLE + ("softmax",)) for a in activations]
        if "softmax" in activations[:-1] or (activations[-1] == "softmax") != (
                loss == "softmax_crossentropy"):
            raise ValueError("softmax goes with softmax_crossentropy, on the output layer only")
        if loss == "sigmoid_binary_crossentropy" and activations[-1] != "sigmoid":
            raise ValueError("sigmoid_binary_crossentropy needs a sigmoid output layer")
        X = as_array("X", X, ndim=2, dtype=dtype, allow_int=False, check_finite=False)
        Y = as_array("Y", Y, ndim=2, dtype=dtype, allow_int=False, check_finite=False)
        check_dim("X", X.shape[1], sizes[0], "features", "W1 has {expected} rows")
        check_dim("Y", Y.shape[1], sizes[-1], "columns", "the output layer has {expected} units")
        check_same_samples(X=X, Y=Y)
        if sample_weight is not None:
            sample_weight = as_array("sample_weight", sample_weight, ndim=1, dtype=dtype)
            check_same_samples(X=X, sample_weight=sample_weight)
            if np.any(sample_weight < 0):
                raise ValueError("sample_weight must be >= 0, got a negative weight at "
                                 f"sample {int(np.argmax(sample_weight < 0))}")
        self.sample_weight = sample_weight
        refuse_overlap({f"weights[{i}]": w for i, w in enumerate(weights)}, {"X": X, "Y": Y})
        self.batch_size = positive_int("batch_size", batch_size)
        if min(sizes) < 1:
            raise ValueError(f"every layer needs at least one unit and one input, got sizes "
                             f"{sizes}")
        check_blas_sizes(batch_size=self.batch_size, **{f"n_{l}": n for l, n in enumerate(sizes)})
        self.weights, self.X, self.Y, self.sizes = list(weights), X, Y, sizes
        self.activations = np.array(codes, dtype=np.intc)
        m = self.batch_size
        self.grads = [staggered_like(w, 1) for w in weights]     # beside w in the page
        self.work = ([aligned_empty((m, n), dtype) for n in sizes[1:]]
                     + [aligned_empty((m, n), dtype) for n in sizes[1:]])
        self.h_last = aligned_empty((m, sizes[-1]), dtype)
        self.Xb = aligned_empty((m, sizes[0]), dtype)
        self.Yb = aligned_empty((m, sizes[-1]), dtype)
        self.losses = aligned_empty(m, dtype)
        self.yhat = aligned_empty((m, sizes[-1]), dtype)
        self._step = _train.DenseStep(self.weights, self.grads, self.work, self.h_last, self.Xb,
                                      self.Yb, self.X, self.Y, self.activations, self.loss_code,
                                      self.losses, self.yhat, sample_weight)
        self.rule: str | None = None    # set_update() fuses an optimizer's update into step()
        self.updated = False        # whether the last step updated the weights
        self.update_finite = True   # whether that update left every weight and slot finite
        self.mean_loss: float | None = None   # the last step's mean loss over its batch
        # and the penalty's value c1 sum|w| + (c2/2) sum w^2 over the arrays, of the weights
        # before its update (0.0 without a penalty; NaN when the step did not update)
        self.penalty: float = 0.0
        self._checked: tuple[list[tuple[Any, ...]], list[tuple[float, float]]] | None = None
        self.threads: int | None = None       # threads per step; None: refnn's setting
        self.thread_choice = _threads.ThreadChoice()   # the count on the default setting
        self.step_threads = 0                 # the count the last step ran on

        self._scalar_check: Callable[[Sequence[float]], tuple[float, ...]] | None = None
        # held by step() while the compiled step runs without the GIL: set_update() frees and
        # replaces buffers that step reads, so it is refused meanwhile
        self._stepping = threading.Lock()
        TRAINERS.add(self)         # use_blas refuses to switch while this trainer lives

    UPDATE_RULES = tuple(RULES)     # what set_update() accepts (refnn/update_rules.py)

    def set_update(self, rule: Rule | str,
                   slots: Sequence[Sequence[NDArray[Any] | None]]) -> None:
        """Fuse an optimizer's update into step(): after the backward pass through each layer,
        its W and b are updated by `rule` (a Rule of refnn/update_rules.py, or its name), in
        place, with their slots: the loop apply_rule runs (src_c/_updates.pxd). `slots` holds,
        for each weight array in order, a tuple of its slot arrays in the rule's order (None
        for an optional slot that is off), each of the weight's shape and dtype, C-contiguous
        and writable. refnn.optimizers' Optimizer.fused_rule() gives both."""
        rule = _rule(rule)
        if not isinstance(slots, (list, tuple)) or len(slots) != len(self.weights):
            raise ValueError(f"slots must hold one tuple per weight array ({len(self.weights)})")
        table = []
        for i, (w, own) in enumerate(zip(self.weights, slots)):
            own = tuple(own)
            if not rule.required <= len(own) <= len(rule.slots):
                raise ValueError(f"slots[{i}] must hold {rule.required} to {len(rule.slots)} "
                                 f"arrays for {rule.name} ({', '.join(rule.slots)}), "
                                 f"got {len(own)}")
            for j, a in enumerate(own):
                if a is None and j < rule.required:
                    raise ValueError(f"slots[{i}][{j}] is required by {rule.name} "
                                     f"({rule.slots[j]}), got None")
                if a is not None and not (_ready(a, w) and a.flags.writeable):
                    raise ValueError(f"slots[{i}][{j}] must be a writable C-contiguous "
                                     f"{w.dtype.name} array of shape {w.shape}")
            table.append(own + (None,) * (_optimizers.SLOTS_MAX - len(own)))
        refuse_overlap({**{f"weights[{i}]": w for i, w in enumerate(self.weights)},
                        **{f"slots[{i}][{j}]": a for i, own in enumerate(slots)
                           for j, a in enumerate(own) if a is not None}},
                       {"X": self.X, "Y": self.Y})
        if not self._stepping.acquire(blocking=False):
            raise RuntimeError("set_update refused: a step() of this trainer is running in "
                               "another thread; set the update between steps")
        try:
            self._step.set_update(rule.code, len(rule.scalars), table)
            self.rule = rule.name
            self._scalar_check = rule.check_scalars
        finally:
            self._stepping.release()

    def step(self, order: NDArray[np.intp], check_finite: bool = False,
             scalars: Sequence[float] | None = None, *,
             penalty: Sequence[Sequence[float]] | None = None,
             clip: tuple[str, float] | None = None, decay: tuple[float, float] | None = None
             ) -> tuple[NDArray[Any], NDArray[Any]]:
        """Gradients of the mean loss over the samples order (intp indices, at most batch_size).
        Returns (losses, yhat): views of this batch's per-sample losses and outputs.

        check_finite checks each gathered row of X on the way (one pass over data already in
        cache, instead of a separate pass over the whole data set): a row with NaN or inf
        raises NonFiniteError naming the sample, before anything is computed.

        scalars (after set_update) are the rule's numbers for this step, e.g. Adam's alpha,
        beta_1, beta_2, adam_epsilon (Rule.scalars): then the weights are updated too, unless
        the batch's loss is not finite; `updated` says which, and `update_finite` whether
        every weight and slot is still finite after it (if not, the caller puts the previous
        state back: the step updates in place, layer after layer, during the backward pass).

        With scalars, before the rule, as Optimizer.apply does (in this order):
        penalty   one pair (c1, c2) per weight array: g += c1 sign(w) + c2 w, the gradient of
                  c1 |w| + (c2 / 2) w^2 (an L1/L2 penalty; Keras's l2 is c2 = 2 l2)
        clip      ("value", c): g clipped into [-c, c]; ("norm", c): each array's g scaled to
                  norm <= c; ("global_norm", c): all together (Keras 3's clipping)
        decay     (wd, eta): w -= w wd eta (Keras 3's weight decay, at this step's eta)"""
        if type(order) is not np.ndarray or order.dtype != np.intp or order.ndim != 1 \
                or not order.flags.c_contiguous or not 0 < order.shape[0] <= self.batch_size:
            raise ValueError(f"order must be a contiguous array of 1 to {self.batch_size} "
                             f"intp indices")
        with self._stepping:                    # the rule checked is the rule the step runs
            if scalars is not None:
                if self.rule is None or self._scalar_check is None:   # set together
                    raise ValueError("scalars were given, but no update was set (set_update)")
                try:
                    scalars = self._scalar_check(scalars)
                except (TypeError, ValueError) as e:
                    raise ValueError(f"scalars must be finite numbers in range for "
                                     f"{self.rule}: {e}") from None
            options = self._options(penalty, clip, decay) if scalars is not None else {}
            self.updated = False
            threads = self.threads or _threads.chosen_num_threads()
            tuned = threads is None and order.shape[0] == self.batch_size
            if threads is None:              # the default: the count its probe timed fastest
                threads = self.thread_choice.threads(_threads.default_num_threads())
            self._step.threads = self.step_threads = threads
            start = time.perf_counter()
            # the step checks each index is a row of X
            status = self._step.step(order, check_finite, scalars, **options)
            if tuned:
                self.thread_choice.record(time.perf_counter() - start)
            return self._finish(order, status, scalars)

    def _options(self, penalty: Sequence[Sequence[float]] | None,
                 clip: tuple[str, float] | None, decay: tuple[float, float] | None
                 ) -> dict[str, Any]:
        """The compiled step's arguments for step()'s penalty, clip and decay, checked."""
        options: dict[str, Any] = {}
        if penalty is not None:
            pairs = [tuple(p) for p in penalty]
            if (self._checked is not None and all(type(c) is float for p in pairs for c in p)
                    and self._checked[0] == pairs):
                options["penalty"] = self._checked[1]  # as the last step's: checked then
            else:
                if len(pairs) != len(self.weights) or any(len(p) != 2 for p in pairs):
                    raise ValueError(f"penalty must hold one pair (c1, c2) per weight array "
                                     f"({len(self.weights)}), got {penalty!r}")
                options["penalty"] = [(positive_number("penalty c1", c1, allow_zero=True),
                                       positive_number("penalty c2", c2, allow_zero=True))
                                      for c1, c2 in pairs]
                self._checked = pairs, options["penalty"]
        if clip is not None:
            kind, value = clip
            options["clip_kind"] = self.CLIPS[choice("clip kind", kind, self.CLIPS)]
            options["clip"] = positive_number("clip", value)
        if decay is not None:
            wd, eta = decay
            options["decay"] = positive_number("decay wd", wd, allow_zero=True)
            options["decay_rate"] = positive_number("decay eta", eta)
        return options

    def pieces(self, m: int | None = None) -> tuple[int, int]:
        """(rows pieces, weights pieces): how a step on m samples (default: a full batch) is cut
        into pieces for refnn's threads (src_c/_train.pyx); fixed by the sizes alone."""
        return self._step.pieces(self.batch_size if m is None else positive_int("m", m))

    def worker_seconds(self) -> list[float]:
        """[seconds] each thread spent on the steps' pieces since the last reset_phases()."""
        return self._step.worker_seconds()

    def _finish(self, order: NDArray[np.intp], status: int, scalars: Sequence[float] | None
                ) -> tuple[NDArray[Any], NDArray[Any]]:
        """What step() returns, from the compiled step's status."""
        if status >= 0:
            raise NonFiniteError(f"X must be finite, but sample {status} holds NaN or infinity")
        self.updated = scalars is not None and status in (_train.STEP_DONE,
                                                          _train.STEP_UPDATE_NOT_FINITE)
        self.update_finite = status != _train.STEP_UPDATE_NOT_FINITE
        m = order.shape[0]
        self.mean_loss = self._step.loss_sum / m       # L = 1/m sum_i loss_i, summed in double
        self.penalty = self._step.penalty_sum
        return self.losses[:m], self.yhat[:m]

    def phase_seconds(self) -> dict[str, float]:
        """{phase: seconds}: the wall-clock time the steps since the last reset_phases() (or
        since this trainer was made) spent in each phase (PHASES): gather, the forward matrix
        products (with the bias rows), the hidden activations, the output error, the backward
        matrix products, the backward elementwise work (db sums, f'(h) products), and the
        fused optimizer update (set_update)."""
        return self._step.phase_seconds()

    def reset_phases(self) -> None:
        """Start phase_seconds() from zero."""
        self._step.reset_phases()
