"""The NumPy contender of the speed benchmarks: mini-batch training of a dense network written
as fast NumPy, the way a careful NumPy user writes it, so that the benchmarks compare refnn's C
core with competent NumPy. It computes what Sequential.fit computes (src_c/_train.pyx's step with
the optimizer's update fused into it), and tests hold it equal to the oracle of fit,
refnn.reference.training.FitOracle, which is written to be obviously right rather than fast.

One step on a mini-batch (X_b, Y_b) of m samples, for layers l = 1 .. L:
  gather:    X_b = X[order[i:i + m]]  (np.take into a buffer; Y_b likewise)
  forward:   g_0 = X_b;  h_l = g_{l-1} @ W_l + b_l;  g_l = f(h_l)          (hidden layers)
  output:    softmax + categorical CE:  epsilon_L = (softmax(h_L) sum_k y_k - y) / m
             sigmoid + binary CE:       epsilon_L = (sigmoid(h_L) - y) / (m k)
             f + mean squared error:    epsilon_L = 2 (yhat - y) / (m k) * f'(h_L)
  backward:  dW_l = g_{l-1}^T @ epsilon_l,  db_l = sum over the batch of epsilon_l,
             epsilon_{l-1} = (epsilon_l @ W_l^T) * f'(h_{l-1})     (not formed for the input)
  update:    Keras 3's Adam or SGD (momentum, Nesterov), as refnn.optimizers does it.
f' is written from the output g: sigmoid g (1 - g), tanh 1 - g^2, relu [g > 0], linear 1.

Every per-layer array is allocated once for the batch size and reused (np.matmul(..., out=),
in-place ufuncs, np.take(..., out=)); a short last batch works in views of the same buffers;
there is no Python loop over samples or elements. The arithmetic follows the compiled step
operation by operation, with one exception: the sigmoid is 1 / (1 + e^-h). The C kernel selects
1 / (1 + z) or z / (1 + z) with z = e^-|h| by the sign of h, which costs NumPy a masked pass that
is dearer than the exponential itself; the two agree to an ulp, and where e^-h overflows
1 / (1 + inf) = 0 is the right limit (that warning is silenced).

It imports nothing compiled: the benchmarks time it in the same process as refnn's fit.
Notation: h weighted sum, g activation output, epsilon error term dL/dh, eta learning rate.
Shapes are batch-major: g_prev (m, n_in), W (n_in, n_out), b (n_out,), h and epsilon (m, n_out).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .reference.training import check_batches, check_data, check_network, check_optimizer

# ---------------------------------------------------------------------------------------------
# Activations in place, and x *= f'(h) written from g; `work` is a scratch array of g's shape


def _activate(activation, h):
    """g = f(h), overwriting h (sigmoid, tanh, relu, linear)"""
    if activation == "sigmoid":
        np.negative(h, out=h)                   # -h
        np.exp(h, out=h)                        # e^-h    (inf for very negative h: g = 0)
        np.add(h, 1, out=h)                     # 1 + e^-h
        np.reciprocal(h, out=h)                 # g = 1 / (1 + e^-h)
    elif activation == "tanh":
        np.tanh(h, out=h)                       # g = tanh h
    elif activation == "relu":
        np.maximum(h, 0, out=h)                 # g = max(h, 0)
    # linear: g = h


def _multiply_derivative(activation, g, x, work):
    """x *= f'(h), with f' from the output g: sigmoid g(1-g), tanh 1-g^2, relu [g>0], linear 1"""
    if activation == "sigmoid":
        np.subtract(1, g, out=work)             # 1 - g
        np.multiply(work, g, out=work)          # g (1 - g)
        np.multiply(x, work, out=x)
    elif activation == "tanh":
        np.multiply(g, g, out=work)             # g^2
        np.subtract(1, work, out=work)          # 1 - g^2
        np.multiply(x, work, out=x)
    elif activation == "relu":
        np.greater(g, 0, out=work)              # [g > 0] = [h > 0], as 0.0 / 1.0
        np.multiply(x, work, out=x)
    # linear: f' = 1


# ---------------------------------------------------------------------------------------------


class NumpyMLP:
    """A stack of Dense layers trained on mini-batches in fast NumPy, as Sequential.fit trains it.

    net = NumpyMLP([W1, b1, W2, b2], ["sigmoid", "softmax"], "categorical_crossentropy",
                   optimizer="adam", learning_rate=0.001)
    loss = net.fit_epoch(X, Y, batch_size=200)            # one pass, batches in order
    weights = net.get_weights()

    The arguments, the update rules and the reported losses are those of the oracle,
    refnn.reference.training.FitOracle (its docstring writes them out); only the arithmetic's
    arrangement differs: buffers reused, np.take into them, matmul(out=).
    The losses reported are Keras's: the mean over the batch of -sum_k y_k log softmax(h)_k,
    of 1/k sum_k [max(h_k, 0) - h_k y_k + log(1 + e^-|h_k|)], or of 1/k sum_k (yhat_k - y_k)^2.
    A batch whose loss is not finite is not applied and ends fit_epoch, as fit stops there.
    Data are cast to the weights' dtype (pass that dtype to avoid a copy); they are not
    checked for NaN or inf.
    """

    # the optimizer's settings (check_optimizer), set in __init__
    optimizer: str
    learning_rate: float
    momentum: float
    nesterov: bool
    beta_1: float
    beta_2: float
    epsilon: float

    def __init__(self, weights: Sequence[ArrayLike], activations: Sequence[str], loss: str,
                 optimizer: str = "adam", learning_rate: float = 0.001, momentum: float = 0.0,
                 nesterov: bool = False, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7) -> None:
        self.dtype, self.W, self.b, self.sizes, self.activations, self.loss = \
            check_network(weights, activations, loss)                # copies of the weights
        for name, value in check_optimizer(optimizer, learning_rate, momentum, nesterov,
                                           beta_1, beta_2, epsilon).items():
            setattr(self, name, value)          # optimizer, learning_rate, momentum, ..., epsilon
        self.iterations = 0

        params = [w for Wb in zip(self.W, self.b) for w in Wb]     # W1, b1, W2, b2, ...
        self._params = params
        self.grads = [np.zeros_like(w) for w in params]             # dW1, db1, ... (last batch)
        self._update_work = [np.empty_like(w) for w in params]      # scratch of the update
        if optimizer == "adam":
            self._m: list[NDArray[Any]] | None = [np.zeros_like(w) for w in params]  # 1st moment
            self._v: list[NDArray[Any]] | None = [np.zeros_like(w) for w in params]  # 2nd moment
            self._update_work2: list[NDArray[Any]] | None = [np.empty_like(w) for w in params]
        elif self.momentum > 0:
            self._m = [np.zeros_like(w) for w in params]            # Keras's momentum slot
            self._v = None
            self._update_work2 = [np.empty_like(w) for w in params] if self.nesterov else None
        else:
            self._m = self._v = self._update_work2 = None
        self._rows = 0                                              # batch buffers not made yet

    # ------------------------------------------------------------------ buffers
    def _reserve(self, m):
        """The per-batch buffers, with room for m samples (made once; remade only to grow)."""
        if m <= self._rows:
            return
        dtype, sizes, k = self.dtype, self.sizes, self.sizes[-1]
        self._Xb = np.empty((m, sizes[0]), dtype)                   # the gathered batch
        self._Yb = np.empty((m, k), dtype)
        self._g = [np.empty((m, n), dtype) for n in sizes[1:]]      # h_l, then g_l in place
        self._epsilon = [np.empty((m, n), dtype) for n in sizes[1:]]
        self._fprime = [np.empty((m, n), dtype) for n in sizes[1:-1]]   # f'(h_l), hidden layers
        self._out_work = np.empty((m, k), dtype)                    # output-layer scratch
        self._out_work2 = np.empty((m, k), dtype)
        self._row_max = np.empty((m, 1), dtype)                     # per-sample scalars
        self._row_sum = np.empty((m, 1), dtype)
        self._y_sum = np.empty((m, 1), dtype)
        self._losses = np.empty(m, dtype)
        self._rows = m

    @property
    def buffers(self) -> dict[str, NDArray[Any]]:
        """{name: array}: every work array training reuses (per batch and per update)."""
        named: dict[str, NDArray[Any]] = {}
        if self._rows:
            named.update(Xb=self._Xb, Yb=self._Yb, out_work=self._out_work,
                         out_work2=self._out_work2, row_max=self._row_max,
                         row_sum=self._row_sum, y_sum=self._y_sum, losses=self._losses)
            for l, (g, e) in enumerate(zip(self._g, self._epsilon), start=1):
                named[f"g{l}"], named[f"epsilon{l}"] = g, e
            for l, f in enumerate(self._fprime, start=1):
                named[f"fprime{l}"] = f
        for name, arrays in (("grad", self.grads), ("update_work", self._update_work),
                             ("update_work2", self._update_work2), ("m", self._m),
                             ("v", self._v)):
            for i, a in enumerate(arrays or []):
                named[f"{name}{i}"] = a
        return named

    # ------------------------------------------------------------------ one step
    def _gradients(self, x, y):
        """The gradients of the mean loss over the batch (x, y) of m <= self._rows samples,
        into self.grads; returns the per-sample losses (a view)."""
        m = x.shape[0]
        if m == self._rows:
            g, epsilon, fprime = self._g, self._epsilon, self._fprime
        else:                                   # a short batch: the leading rows of each buffer
            g = [a[:m] for a in self._g]
            epsilon = [a[:m] for a in self._epsilon]
            fprime = [a[:m] for a in self._fprime]
        L, acts = len(self.W), self.activations

        # forward: h_l = g_{l-1} @ W_l + b_l;  g_l = f(h_l) in place (the output layer keeps h_L)
        g_prev = x
        for l in range(L):
            h = g[l]
            np.matmul(g_prev, self.W[l], out=h)             # g_prev @ W
            np.add(h, self.b[l], out=h)                     # h = g_prev @ W + b
            if l < L - 1:
                _activate(acts[l], h)                       # g = f(h)
            g_prev = h

        losses = self._losses[:m]
        self._output_error(g[L - 1], y, epsilon[L - 1], losses)

        # backward, from the output side inwards
        for l in range(L - 1, -1, -1):
            g_prev = x if l == 0 else g[l - 1]
            dW, db = self.grads[2 * l], self.grads[2 * l + 1]
            np.matmul(g_prev.T, epsilon[l], out=dW)         # dW = g_prev^T @ epsilon
            np.sum(epsilon[l], axis=0, out=db)              # db = sum over the batch of epsilon
            if l > 0:
                np.matmul(epsilon[l], self.W[l].T, out=epsilon[l - 1])   # epsilon @ W^T
                _multiply_derivative(acts[l - 1], g[l - 1], epsilon[l - 1], fprime[l - 1])
                # epsilon_prev = (epsilon @ W^T) * f'(h_prev)
        return losses

    def _output_error(self, h, y, epsilon, losses):
        """epsilon = dL/dh of the mean loss over the m samples, and each sample's loss.
        h (m, k) holds the output layer's weighted sums; it is overwritten."""
        m, k = h.shape
        work = self._out_work[:m]
        if self.loss == "categorical_crossentropy":
            mx, s, y_sum = self._row_max[:m], self._row_sum[:m], self._y_sum[:m]
            np.max(h, axis=1, keepdims=True, out=mx)        # max_k h_k
            np.subtract(h, mx, out=h)                       # z = h - max h  (<= 0: no overflow)
            np.exp(h, out=epsilon)                          # e^z
            np.sum(epsilon, axis=1, keepdims=True, out=s)   # s = sum_k e^z_k  (>= 1)
            np.sum(y, axis=1, keepdims=True, out=y_sum)     # sum_k y_k  (1 for one-hot rows)
            np.divide(y_sum, s, out=y_sum)                  # sum(y) / s
            np.log(s, out=s)                                # log s
            np.subtract(s, h, out=h)                        # log s - z_k = logsumexp(h) - h_k
            np.multiply(y, h, out=h)                        # y_k (logsumexp(h) - h_k)
            np.sum(h, axis=1, out=losses)                   # loss = -sum_k y_k log softmax(h)_k
            np.multiply(epsilon, y_sum, out=epsilon)        # softmax(h) sum(y)
            np.subtract(epsilon, y, out=epsilon)            # softmax(h) sum(y) - y
            np.divide(epsilon, self.dtype.type(m), out=epsilon)   # epsilon = (yhat - y) / m
        elif self.loss == "binary_crossentropy":
            work2 = self._out_work2[:m]
            np.maximum(h, 0, out=work)                      # max(h, 0)
            np.multiply(h, y, out=work2)                    # h y
            np.subtract(work, work2, out=work)              # max(h, 0) - h y
            np.abs(h, out=work2)                            # |h|
            np.negative(work2, out=work2)
            np.exp(work2, out=work2)                        # e^-|h|   (<= 1: no overflow)
            np.log1p(work2, out=work2)                      # log(1 + e^-|h|)
            np.add(work, work2, out=work)                   # max(h,0) - h y + log(1 + e^-|h|)
            np.sum(work, axis=1, out=losses)
            np.divide(losses, self.dtype.type(k), out=losses)   # loss = 1/k sum_k ...
            _activate("sigmoid", h)                         # yhat = sigmoid(h)
            np.subtract(h, y, out=epsilon)                  # yhat - y
            np.divide(epsilon, self.dtype.type(m * k), out=epsilon)   # epsilon = (yhat - y)/(m k)
        else:                                               # mean squared error
            activation = self.activations[-1]
            _activate(activation, h)                        # yhat = f(h)
            np.subtract(h, y, out=epsilon)                  # r = yhat - y
            np.multiply(epsilon, epsilon, out=work)         # r^2
            np.sum(work, axis=1, out=losses)
            np.divide(losses, self.dtype.type(k), out=losses)   # loss = 1/k sum_k r_k^2
            np.multiply(epsilon, 2, out=epsilon)            # 2 r
            np.divide(epsilon, self.dtype.type(k * m), out=epsilon)   # dL/dyhat = 2 r / (k m)
            _multiply_derivative(activation, h, epsilon, work)   # epsilon = dL/dyhat f'(h)

    def _update(self):
        """w <- update(w, g) for every weight, in place; iterations += 1."""
        dt = self.dtype.type
        eta = self.learning_rate
        if self.optimizer == "adam":
            t = self.iterations + 1
            alpha = dt(eta * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t))
            one_minus_beta_1, one_minus_beta_2 = dt(1.0 - self.beta_1), dt(1.0 - self.beta_2)
            adam_epsilon = dt(self.epsilon)
            for w, grad, m, v, s, s2 in zip(self._params, self.grads, self._m, self._v,
                                            self._update_work, self._update_work2):
                np.multiply(grad, grad, out=s)              # g^2
                np.subtract(s, v, out=s)                    # g^2 - v
                np.multiply(s, one_minus_beta_2, out=s)
                np.add(v, s, out=v)                         # v = v + (g^2 - v)(1 - beta_2)
                np.subtract(grad, m, out=s)                 # g - m
                np.multiply(s, one_minus_beta_1, out=s)
                np.add(m, s, out=m)                         # m = m + (g - m)(1 - beta_1)
                np.sqrt(v, out=s)
                np.add(s, adam_epsilon, out=s)              # sqrt(v) + adam_epsilon
                np.multiply(m, alpha, out=s2)               # alpha m
                np.divide(s2, s, out=s2)
                np.subtract(w, s2, out=w)                   # w = w - alpha m / (sqrt(v) + eps)
        elif self._m is None:
            eta = dt(eta)
            for w, grad, s in zip(self._params, self.grads, self._update_work):
                np.multiply(grad, eta, out=s)               # eta g
                np.subtract(w, s, out=w)                    # w = w - eta g
        else:
            eta, momentum = dt(eta), dt(self.momentum)
            for i, (w, grad, m, s) in enumerate(zip(self._params, self.grads, self._m,
                                                    self._update_work)):
                np.multiply(m, momentum, out=m)             # momentum m
                np.multiply(grad, eta, out=s)               # eta g
                np.subtract(m, s, out=m)                    # m = momentum m - eta g
                if self.nesterov:
                    s2 = self._update_work2[i]
                    np.multiply(m, momentum, out=s2)        # momentum m
                    np.subtract(s2, s, out=s2)              # momentum m - eta g
                    np.add(w, s2, out=w)                    # w = w + momentum m - eta g
                else:
                    np.add(w, m, out=w)                     # w = w + m
        self.iterations += 1

    def _step(self, x, y):
        """gradients, then the update unless the loss is not finite; returns the mean loss"""
        with np.errstate(over="ignore"):                    # e^-h -> inf in the sigmoid: g = 0
            losses = self._gradients(x, y)
        loss = float(np.mean(losses, dtype=np.float64))     # L = 1/m sum_i loss_i
        if math.isfinite(loss):
            self._update()
        return loss

    # ------------------------------------------------------------------ public
    def _data(self, X: ArrayLike, Y: ArrayLike) -> tuple[NDArray[Any], NDArray[Any]]:
        return check_data(X, Y, self.sizes, self.dtype)

    def train_batch(self, Xb: ArrayLike, Yb: ArrayLike) -> float:
        """One step on the batch (Xb (m, n_0), Yb (m, n_L)); returns the mean loss over it
        (the loss before the update, as fit reports it)."""
        Xb, Yb = self._data(Xb, Yb)
        self._reserve(Xb.shape[0])
        return self._step(Xb, Yb)

    def fit_epoch(self, X: ArrayLike, Y: ArrayLike, batch_size: int,
                  order: ArrayLike | None = None) -> float:
        """One pass: a step on each batch X[order[i:i + batch_size]] in turn (order defaults
        to 0 .. n-1, the last batch may be short). Returns the mean loss over the samples
        seen: the batches' mean losses weighted by their sizes, as fit's history["loss"]."""
        X, Y = self._data(X, Y)
        batch_size, order = check_batches(X.shape[0], batch_size, order)
        self._reserve(min(batch_size, order.size))
        loss_sum, seen = 0.0, 0
        for start in range(0, order.size, batch_size):
            idx = order[start:start + batch_size]
            m = idx.size
            x, y = self._Xb[:m], self._Yb[:m]
            np.take(X, idx, axis=0, out=x, mode="clip")     # X_b = X[idx]   (indices checked)
            np.take(Y, idx, axis=0, out=y, mode="clip")     # Y_b = Y[idx]
            loss = self._step(x, y)
            loss_sum += loss * m
            seen += m
            if not math.isfinite(loss):                     # diverged: fit stops here too
                break
        return loss_sum / seen

    def get_weights(self) -> list[NDArray[Any]]:
        """[W1, b1, W2, b2, ...] as copies"""
        return [w.copy() for w in self._params]
