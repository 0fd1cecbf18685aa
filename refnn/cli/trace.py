"""python -m refnn trace: one textbook backprop step, h, g, epsilon per layer, the gradient and
the update, each gradient entry beside its central finite difference (refnn.gradcheck)."""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..gradcheck import GradcheckReport, check_function
from ..textbook import BackpropNetwork, Trace
from . import parsing
from .parsing import UsageError

if TYPE_CHECKING:
    from .parsing import Subparsers

# trace prints a line per checked entry and takes two forward passes for each: a check of
# every entry is offered up to this many weights; larger networks name --max-entries
FULL_CHECK_LIMIT = 2_000
# and the network itself must be small enough to build and print (float64 weights)
MAX_WEIGHTS = 5_000_000


def register(subparsers: Subparsers) -> None:
    p = parsing.add_command(
        subparsers, "trace",
        help="one textbook backprop step in the lecture's notation, with finite differences",
        description=(
            "One step of the textbook's per-sample backpropagation on a tiny network "
            "(refnn.textbook.BackpropNetwork, E = 1/2 sum_k (yhat_k - y_k)^2): the "
            "weighted sums h, outputs g and error terms epsilon of every layer, the "
            "gradient dE/dw = epsilon_j g_i, the update w' = w - eta dE/dw; then every "
            "gradient entry beside its central finite difference, for checking the "
            "derivation by hand. Exit status 1 if any entry disagrees."),
        examples=["trace                            2-2-1 sigmoid, x = (0, 1), y = 1",
                  "trace --sizes 2,3,1 --x 1,0 --y 1 --eta 0.1",
                  "trace --activation tanh --backend python",
                  "trace --sizes 784,30,10 --max-entries 3"])
    p.add_argument("--sizes", type=parsing.sizes, default=(2, 2, 1),
                   help="units per layer, input first")
    p.add_argument("--activation", choices=("sigmoid", "tanh", "relu", "linear"),
                   default="sigmoid", help="activation of every layer")
    p.add_argument("--x", type=parsing.numbers, default=None,
                   help="the input, comma-separated (default: 0,1 for two inputs, else random)")
    p.add_argument("--y", type=parsing.numbers, default=None,
                   help="the target, comma-separated (default: 1 for every output)")
    p.add_argument("--eta", type=parsing.positive_float, default=0.5, help="learning rate")
    p.add_argument("--seed", type=parsing.nonnegative_int, default=0, help="initial weights")
    p.add_argument("--backend", choices=("c", "numpy", "python"), default="c",
                   help="which implementation computes (the same numbers)")
    p.add_argument("--step", type=parsing.positive_float, default=1e-6,
                   help="finite-difference step")
    p.add_argument("--tolerance", type=parsing.positive_float, default=1e-6,
                   help="largest relative error that passes")
    p.add_argument("--max-entries", type=parsing.positive_int, default=None, metavar="N",
                   help=f"check N entries per tensor (the largest gradient and others drawn "
                        f"with --seed) instead of all; all is offered up to "
                        f"{FULL_CHECK_LIMIT:,} weights (default: all)")
    p.set_defaults(run=run)


def n_weights(sizes: Sequence[int]) -> int:
    """Weights and biases of a fully connected network: sum of (n_in + 1) n_out."""
    return sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def _check_size(sizes, max_entries):
    text = ",".join(map(str, sizes))
    if len(sizes) < 2:
        raise UsageError(f"--sizes needs at least an input and an output size, got "
                         f"{text or 'none'}")
    n = n_weights(sizes)
    if n > MAX_WEIGHTS:
        raise UsageError(f"--sizes {text} has {n:,} weights; trace is for networks small "
                         f"enough to read, at most {MAX_WEIGHTS:,} weights")
    if n > FULL_CHECK_LIMIT and max_entries is None:
        raise UsageError(f"--sizes {text} has {n:,} weights: checking every one takes "
                         f"{2 * n:,} forward passes of the network and prints {n:,} lines; "
                         f"pass --max-entries N to check N entries per tensor, or use at most "
                         f"{FULL_CHECK_LIMIT:,} weights")


def run(args: argparse.Namespace) -> int:
    sizes = list(args.sizes)
    _check_size(sizes, args.max_entries)
    net = BackpropNetwork(sizes, activation=args.activation, seed=args.seed,
                          backend=args.backend)
    if args.x is None:
        x = (np.array([0.0, 1.0]) if sizes[0] == 2
             else np.round(np.random.default_rng(args.seed).uniform(-1, 1, sizes[0]), 2))
    else:
        x = np.array(args.x)
    y = np.ones(sizes[-1]) if args.y is None else np.array(args.y)
    if x.size != sizes[0]:
        raise UsageError(f"--x has {x.size} values, the network {sizes[0]} inputs")
    if y.size != sizes[-1]:
        raise UsageError(f"--y has {y.size} values, the network {sizes[-1]} outputs")

    print(f"refnn trace: {net!r}")
    print("")
    print("weights before the step (W_l has shape (n_in, n_out): entry [i, j] is w_ij):")
    for l, (W, b) in enumerate(zip(net.get_weights()[::2], net.get_weights()[1::2]), start=1):
        print(f"  W{l} =")
        print("\n".join("    " + row for row in np.array2string(
            W, precision=6, floatmode="fixed").splitlines()))
        print(f"  b{l} = {np.array2string(b, precision=6, floatmode='fixed')}")
    print("")
    trace = net.step(x, y, eta=args.eta)
    print(trace)
    print("")
    report = _check(trace, sizes, net.weight_names(), args)
    _print_entries(trace, report, net.weight_names(), args.step)
    print(f"{'all entries agree' if report.ok else 'NOT OK: an entry disagrees'} "
          f"(worst relative error {report.max_rel_error:.1e}, tolerance {args.tolerance:g})")
    return 0 if report.ok else 1


def _check(trace: Trace, sizes: Sequence[int], names: Sequence[str], args: argparse.Namespace
           ) -> GradcheckReport:
    """The step's gradient against central differences of E(w) of the one sample, by
    refnn.gradcheck.check_function; E is computed by the NumPy twin, independent of the
    backend that made the step. A relu entry whose step crosses h = 0 is a kink: listed,
    not judged."""
    X, Y = trace.x.reshape(1, -1), trace.y.reshape(1, -1)
    twin = BackpropNetwork(sizes, activation=args.activation, backend="numpy")

    def E_and_step_gradient(params: list[NDArray[np.float64]]
                            ) -> tuple[float, list[NDArray[Any]]]:
        """E at params; the gradient is the step's, which check_function reads only at the
        unperturbed weights (where the step computed it)."""
        twin.set_weights(params)
        return twin.evaluate(X, Y), trace.grads

    def relu_masks(params: list[NDArray[np.float64]]) -> Sequence[ArrayLike]:
        twin.set_weights(params)
        return twin.kink_signature(X, Y)

    return check_function(E_and_step_gradient, trace.weights_before, step=args.step,
                          tolerance=args.tolerance, kink_signature=relu_masks, names=names,
                          max_entries_per_tensor=args.max_entries, seed=args.seed)


def _print_entries(trace: Trace, report: GradcheckReport, names: Sequence[str],
                   step: float) -> None:
    """One line per checked entry: dE/dw_ij = epsilon_j g_i, the factors, both values."""
    print(f"each gradient entry beside the central difference "
          f"(E(w + s) - E(w - s)) / (2 s), s = {step:g}:")
    head = ("entry", "values", "backprop", "finite diff.", "rel. error")
    lines = []
    for entry in report.entries:
        t = names.index(entry.name)
        name, l, idx = entry.name, t // 2 + 1, entry.index  # W_l, b_l belong to layer l
        epsilon_j = trace.epsilon[l - 1][idx[-1]]
        if len(idx) == 2:                                  # dE/dw_ij = epsilon_j g_i
            i, j = idx
            label = f"dE/d{name}[{i},{j}] = epsilon{l}[{j}] g{l - 1}[{i}]"
            factors = f"{epsilon_j:.6f} * {trace.g[l - 1][i]:.6f}"
        else:                                              # dE/db_j = epsilon_j
            label = f"dE/d{name}[{idx[0]}] = epsilon{l}[{idx[0]}]"
            factors = f"{epsilon_j:.6f}"
        judged = f"{entry.rel_error:.1e}" if entry.crossed is None else "(kink)"
        lines.append((label, factors, f"{entry.analytic: .9e}", f"{entry.numeric: .9e}",
                      judged))
    widths = [max(len(row[c]) for row in [head] + lines) for c in range(len(head))]
    for row in [head] + lines:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    if report.kinks:
        print(f"  (kink): {len(report.kinks)} entries whose step moved a relu input h across 0, "
              f"where E is not smooth and the difference is no derivative; not judged")
