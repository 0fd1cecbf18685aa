"""The implementations each speed workload (refnn.benchmarking.WORKLOADS) runs beside refnn's
own fit: the NumPy contender (refnn.contender), PyTorch and scikit-learn when installed, and
for W5 and W6 refnn.sklearn's estimator against scikit-learn's. Each gives (epoch(state),
setup() -> state): the same network, initial weights (Keras's glorot_uniform, shared) and
optimizer as refnn's run, on the same data."""
from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .benchmarking import (LEARNING_RATE, Run, Workload, glorot_weights, layer_sizes,
                           textbook_weights)
from .contender import NumpyMLP
from .reference import vectorized
from .textbook import BackpropNetwork

Pair = tuple[Callable[..., object], Callable[[], Any]]     # (epoch(state), setup() -> state)


def numpy_run(w: Workload, X: NDArray[Any], Y: NDArray[Any], seed: int) -> Pair:
    """the NumPy contender (refnn.contender.NumpyMLP) with the workload's optimizer"""
    sizes = layer_sizes(w)
    acts = [w["activation"]] * (len(sizes) - 2) + ["softmax"]

    def setup():                        # Adam, or SGD with momentum 0.9, as workload_optimizer(w)
        return NumpyMLP(glorot_weights(sizes, w["dtype"], seed), acts, "categorical_crossentropy",
                        w["optimizer"], LEARNING_RATE[w["optimizer"]],
                        momentum=0.9 if w["optimizer"] == "sgd" else 0.0)
    rng = np.random.default_rng(seed)
    return lambda net: net.fit_epoch(X, Y, w["batch_size"], rng.permutation(X.shape[0])), setup


def torch_module() -> Any:
    """PyTorch, or None when it is not installed"""
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_run(w: Workload, X: NDArray[Any], Y: NDArray[Any], seed: int, threads: int) -> Pair:
    """PyTorch: the same network, initial weights and optimizer, on `threads` threads"""
    torch = torch_module()
    torch.set_num_threads(threads)
    sizes = layer_sizes(w)
    dtype = torch.float32 if w["dtype"] == "float32" else torch.float64
    act = torch.nn.Sigmoid if w["activation"] == "sigmoid" else torch.nn.ReLU
    Xt, labels = torch.from_numpy(X), torch.from_numpy(Y.argmax(axis=1))

    def setup():
        layers = []
        for a, b in zip(sizes[:-2], sizes[1:-1]):
            layers += [torch.nn.Linear(a, b), act()]
        net = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-2], 10)).to(dtype)
        with torch.no_grad():
            params = [p for lin in net if isinstance(lin, torch.nn.Linear)
                      for p in (lin.weight, lin.bias)]
            for p, v in zip(params, glorot_weights(sizes, w["dtype"], seed)):
                p.copy_(torch.from_numpy(v.T.copy() if v.ndim == 2 else v))
        opt = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE["adam"], eps=1e-7) \
            if w["optimizer"] == "adam" else \
            torch.optim.SGD(net.parameters(), lr=LEARNING_RATE["sgd"], momentum=0.9)
        return net, opt

    def epoch(state):
        net, opt = state
        loss_fn = torch.nn.CrossEntropyLoss()
        order = torch.randperm(Xt.shape[0])
        for start in range(0, Xt.shape[0], w["batch_size"]):
            idx = order[start:start + w["batch_size"]]
            opt.zero_grad()
            loss = loss_fn(net(Xt[idx]), labels[idx])
            loss.backward()
            opt.step()
    return epoch, setup


def quiet_fit(clf: Any, X: NDArray[Any], labels: NDArray[Any]) -> None:
    """clf.fit(X, labels) without its warnings (a one-epoch fit warns that it did not
    converge)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, labels)


def sklearn_run(w: Workload, X: NDArray[Any], Y: NDArray[Any], seed: int) -> Pair | None:
    """scikit-learn's MLPClassifier set to the workload's network and optimizer (no penalty),
    one epoch per fit; None when scikit-learn is not installed"""
    try:
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return None
    labels = Y.argmax(axis=1)

    def setup():
        return MLPClassifier(hidden_layer_sizes=tuple(w["hidden"]),
                             activation="logistic" if w["activation"] == "sigmoid" else "relu",
                             solver=w["optimizer"], batch_size=w["batch_size"], alpha=0.0,
                             learning_rate_init=LEARNING_RATE[w["optimizer"]], momentum=0.9,
                             nesterovs_momentum=False, max_iter=1, shuffle=True,
                             random_state=seed, tol=0.0, epsilon=1e-7)

    return lambda clf: quiet_fit(clf, X, labels), setup


def estimator_runs(w: Workload, X: NDArray[Any], Y: NDArray[Any], seed: int
                   ) -> dict[str, Pair] | None:
    """W5, W6: {"refnn": refnn.sklearn.MLPClassifier, "scikit-learn": its own}, the same
    parameters (scikit-learn's defaults but the workload's epochs, never stopped early), fit
    on the same data; None when scikit-learn is not installed."""
    try:
        from sklearn import neural_network
    except ImportError:
        return None
    from .sklearn import MLPClassifier
    labels = Y.argmax(axis=1)
    epochs = w.get("epochs", 1)
    params = dict(hidden_layer_sizes=tuple(w["hidden"]), max_iter=epochs, random_state=seed,
                  batch_size=w["batch_size"], n_iter_no_change=epochs + 1)

    def run(make: Callable[..., Any]) -> Pair:
        return lambda clf: quiet_fit(clf, X, labels), lambda: make(**params)
    return {"refnn": run(MLPClassifier), "scikit-learn": run(neural_network.MLPClassifier)}


def per_sample_runs(w: Workload, X: NDArray[Any], Y: NDArray[Any], seed: int, threads: int
                    ) -> dict[str, Run]:
    """W2: refnn's per-sample kernel, the NumPy per-sample loop and PyTorch per sample."""
    sizes = layer_sizes(w)
    weights = textbook_weights(sizes, seed=seed)
    n_slow = max(1, X.shape[0] // 5)
    def refnn_epoch(net):
        net.fit(X, Y, eta=0.1, epochs=1)

    def refnn_setup():
        net = BackpropNetwork(sizes, seed=seed, dtype="float32")
        net.set_weights(weights)
        return net
    runs: dict[str, Run] = {"refnn": (refnn_epoch, refnn_setup, X.shape[0]),
            "numpy": (lambda ws: vectorized.sgd_per_sample(ws, X[:n_slow], Y[:n_slow], 0.1,
                                                           "sigmoid"),
                      lambda: [v.copy() for v in weights], n_slow)}
    torch = torch_module()
    if torch is not None:
        torch.set_num_threads(threads)

        def setup():
            net = torch.nn.Sequential(torch.nn.Linear(784, sizes[1]), torch.nn.Sigmoid(),
                                      torch.nn.Linear(sizes[1], 10), torch.nn.Sigmoid())
            with torch.no_grad():
                for p, v in zip([net[0].weight, net[0].bias, net[2].weight, net[2].bias], weights):
                    p.copy_(torch.from_numpy(v.T.copy() if v.ndim == 2 else v))
            return net, torch.optim.SGD(net.parameters(), lr=0.1)
        Xt, Yt = torch.from_numpy(X[:n_slow]), torch.from_numpy(Y[:n_slow])

        def epoch(state):
            net, opt = state
            for i in range(Xt.shape[0]):
                opt.zero_grad()
                E = 0.5 * ((net(Xt[i]) - Yt[i]) ** 2).sum()
                E.backward()
                opt.step()
        runs["pytorch"] = (epoch, setup, n_slow)
    return runs
