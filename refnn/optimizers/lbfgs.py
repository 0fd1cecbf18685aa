"""Full-batch L-BFGS (scipy.optimize.minimize, method "L-BFGS-B", no bounds)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize as scipy_optimize

from .._validate import as_array, positive_int, positive_number
from .base import FullBatchOptimizer, Objective


class LBFGS(FullBatchOptimizer):
    """Full-batch L-BFGS: scipy.optimize.minimize(method="L-BFGS-B", jac=True), no bounds.

    Keras has no L-BFGS. The options and their defaults are scipy's, under longer names:
        max_iterations      -> maxiter  (default 15000)
        tolerance           -> gtol     (default 1e-5): stop when max_i |dE/dw_i| <= tolerance
        history_size        -> maxcor   (default 10): the m correction pairs kept
        ftol                -> ftol     (default 2.220446049250313e-09): stop when the relative
                                         reduction of the loss is <= ftol
        max_function_evals  -> maxfun   (default 15000)
    There is no learning rate: a line search picks each step. stochastic is False: the model
    calls minimize(fun, x0) on the packed parameters instead of apply(). The curvature pairs
    live only inside one minimize call; iterations counts L-BFGS iterations over all calls.
    """

    name = "lbfgs"

    def __init__(self, max_iterations: int = 15000, tolerance: float = 1e-5, history_size: int = 10,
                 ftol: float = 2.220446049250313e-09, max_function_evals: int = 15000) -> None:
        super().__init__()
        self.max_iterations = positive_int("max_iterations", max_iterations)
        self.tolerance = positive_number("tolerance", tolerance, allow_zero=True)
        self.history_size = positive_int("history_size", history_size)
        self.ftol = positive_number("ftol", ftol, allow_zero=True)
        self.max_function_evals = positive_int("max_function_evals", max_function_evals)

    def minimize(self, fun: Objective, x0: ArrayLike) -> tuple[NDArray[np.float64], dict[str, Any]]:
        """x* = argmin_x fun(x), from x0.

        fun(x) -> (loss, grad): x a float64 1-D array (a copy: keep it if you like), loss a
        float, grad dloss/dx of x's shape. Returns (x, info) with x a new float64 array and
        info = {"stop_reason": scipy's message, "success": bool, "grad_norm": ||grad||_2 at x,
        "grad_max": max |grad_i| at x (what `tolerance` bounds), "n_iterations": int,
        "n_function_evals": int, "loss": fun at x}."""
        if not callable(fun):
            raise TypeError(f"fun must be callable, got {type(fun).__name__}")
        x0 = as_array("x0", x0, dtype=np.float64, ndim=1).copy()
        n_calls = [0]

        def loss_and_grad(x):
            out = fun(x.copy())
            if not isinstance(out, tuple) or len(out) != 2:
                raise TypeError(f"fun must return a pair (loss, grad), got "
                                f"{type(out).__name__}")
            loss, grad = out
            loss_array = np.asarray(loss)
            if loss_array.size != 1 or loss_array.dtype.kind not in "iuf":
                raise TypeError(f"fun must return a number as the loss, got {loss!r}")
            loss = float(loss_array.reshape(()))
            grad = np.asarray(grad, dtype=np.float64)
            if grad.shape != x.shape:
                raise ValueError(f"fun must return a gradient of shape {x.shape}, "
                                 f"got {grad.shape}")
            if n_calls[0] == 0 and not (math.isfinite(loss) and np.isfinite(grad).all()):
                raise ValueError(f"fun(x0) must be finite: loss {loss}, gradient with "
                                 f"{int(np.sum(~np.isfinite(grad)))} non-finite entries")
            n_calls[0] += 1
            return loss, grad

        result = scipy_optimize.minimize(
            loss_and_grad, x0, jac=True, method="L-BFGS-B",
            options={"maxiter": self.max_iterations, "gtol": self.tolerance,
                     "maxcor": self.history_size, "ftol": self.ftol,
                     "maxfun": self.max_function_evals})
        grad = np.asarray(result.jac, dtype=np.float64)
        message = result.message
        if isinstance(message, bytes):
            message = message.decode()
        n_iterations = int(result.nit)
        info = {"stop_reason": str(message), "success": bool(result.success),
                "grad_norm": float(np.linalg.norm(grad)),
                "grad_max": float(np.max(np.abs(grad))) if grad.size else 0.0,
                "n_iterations": n_iterations, "n_function_evals": int(result.nfev),
                "loss": float(result.fun)}
        self.iterations += n_iterations
        return np.array(result.x, dtype=np.float64), info
