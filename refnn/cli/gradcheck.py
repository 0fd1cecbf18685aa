"""python -m refnn gradcheck: every parameter tensor of a network described by flags, against
central finite differences (refnn.gradcheck)."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import numpy as np

from ..gradcheck import gradcheck
from . import flags, parsing, running

if TYPE_CHECKING:
    from .parsing import Subparsers


def register(subparsers: Subparsers) -> None:
    p = parsing.add_command(
        subparsers, "gradcheck",
        help="check every gradient of a network against finite differences",
        description=(
            "Build the network the flags describe (as train does), in float64, and "
            "compare the gradient of the loss that backpropagation gives with "
            "central finite differences (L(w + step) - L(w - step)) / (2 step), entry "
            "by entry, on a few samples of the data. Prints the worst relative error "
            "per parameter tensor; exit status 1 when any exceeds the tolerance. "
            "relu entries whose step crosses the kink at h = 0 are skipped and listed."),
        examples=["gradcheck                       2-32-32-1 relu on spirals",
                  "gradcheck --layers 8,8 --activation tanh --batchnorm",
                  "gradcheck fashion-mnist --layers 16 --loss mse --samples 4",
                  "gradcheck --csv data.csv --target y --dropout 0.5"])
    flags.add_data_flags(p, "spirals", 16, "samples the loss is averaged over")
    flags.add_model_flags(p, list(flags.PROFILES))
    p.add_argument("--step", type=parsing.positive_float, default=1e-6,
                   help="finite-difference step")
    p.add_argument("--tolerance", type=parsing.positive_float, default=1e-6,
                   help="largest relative error that passes")
    p.add_argument("--max-entries", type=parsing.nonnegative_int, default=500, metavar="N",
                   help="check at most N entries per tensor, chosen at random (seeded); "
                        "0: all")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    data = running.load_data(args)
    flags.resolve_profile(args, data.kind)
    model, loss, metrics, targets = running.build_network(data, args, args.samples, "float64")
    model.compile(loss=loss, optimizer="sgd")
    X = np.concatenate([data.x_train, data.x_test])[:args.samples]
    Y = targets(np.concatenate([data.y_train, data.y_test])[:args.samples])
    arch = "-".join(str(n) for n in (data.n_inputs,) + tuple(args.layers)
                    + (model.output_shape[0],))
    extras = ["batch normalisation" if args.batchnorm else "",
              f"dropout {args.dropout:g} (one fixed mask)" if args.dropout else ""]
    print(f"refnn gradcheck: network {arch}, {args.activation} hidden layers, "
          f"{model.layers[-1].activation} output, {loss}"
          + "".join(f", {e}" for e in extras if e))
    print(f"data: {X.shape[0]} samples of {data.name}; weights initialised with seed {args.seed}")
    print("")
    report = gradcheck(model, X, Y, step=args.step, tolerance=args.tolerance,
                       max_entries_per_tensor=args.max_entries or None, seed=args.seed)
    print(report)
    return 0 if report.ok else 1
