"""Optimizers: SGD (momentum, Nesterov), Adagrad, RMSprop, Adam (AMSGrad), and full-batch L-BFGS.

Names, defaults and update rules are Keras 3's, so a model trained here follows the same
trajectory as in Keras. The lecture's rule is plain SGD, w' = w - eta dE/dw; the others change
the step per parameter from running averages of past gradients (the optimizer's "slots").

Boundary: an Optimizer validates its hyper-parameters in __init__ and everything handed to
apply() before it changes anything (so the kernels' entry points, which check again, are told
to skip the finiteness scan it has just done); the per-array update then runs as one fused C
loop (refnn.kernels -> src_c/_optimizers.pyx) that updates the weights and slots in place. Scalars
that depend on the step number t (Adam's bias corrections) are computed here, once per apply.

Notation: w a parameter array, g = dE/dw its gradient, eta the learning rate
(Keras's learning_rate), t = iterations + 1 the number of the step being taken.
"""
import inspect
import math

import numpy as np
from scipy import optimize as scipy_optimize

from . import kernels
from ._validate import FLOAT_DTYPES, as_array, choice, flag, positive_int, positive_number


# ---------------------------------------------------------------- hyper-parameter checks
def _fraction(name, value):
    """A decay factor in [0, 1): momentum, rho, beta_1, beta_2."""
    value = positive_number(name, value, allow_zero=True)
    if value >= 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return value



def _check_weight_list(weights, name="weights"):
    """[(shape, dtype)] of a list of float32/float64 parameter arrays."""
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"{name} must be a list of NumPy arrays, got {type(weights).__name__}")
    specs = []
    for i, w in enumerate(weights):
        if not isinstance(w, np.ndarray):
            raise TypeError(f"{name}[{i}] must be a NumPy array (it is updated in place), "
                            f"got {type(w).__name__}")
        if w.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{name}[{i}] must be float32 or float64, got {w.dtype.name}")
        specs.append((tuple(w.shape), w.dtype))
    return specs


def _describe(specs):
    return "[" + ", ".join(f"{dt.name}{list(shape)}" for shape, dt in specs) + "]"


# ---------------------------------------------------------------- the base class
class Optimizer:
    """Base class: iterations, slots, state and config; subclasses define the update.

    build(weights)         make the slots: one array per weight and slot name, in the weight's
                           dtype (a no-op once built for weights of the same shapes and dtypes)
    apply(weights, grads)  update every weights[i] in place from grads[i]; iterations += 1
    get_state()            [iterations, *slots] as arrays, for saving; set_state restores it
    get_config()           {"name": ..., hyper-parameters}: JSON-able; from_config inverts it
    """

    name = "optimizer"           # the registry name: get(name), config["name"]
    stochastic = True            # False for full-batch optimizers (LBFGS)
    _nonnegative = ()            # slots that hold sums/averages of g^2: never below 0

    def __init__(self):
        self.iterations = 0
        self._slots = {}         # slot name -> [one array per weight]   (Keras's slot names)
        self._specs = None       # [(shape, dtype) per weight] once built

    # -------------------------------------------------------------- hyper-parameters
    @property
    def learning_rate(self):
        """eta, the learning rate: a finite number > 0 (may be changed between steps)."""
        try:
            return self._learning_rate
        except AttributeError:
            raise AttributeError(f"{type(self).__name__} has no learning_rate") from None

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = positive_number("learning_rate", value)

    @classmethod
    def _config_keys(cls):
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_config(self):
        """The constructor's arguments (plus "name"), JSON-able."""
        return {"name": self.name, **{k: getattr(self, k) for k in self._config_keys()}}

    @classmethod
    def from_config(cls, config):
        """The optimizer get_config() described (a fresh one: no slots, iterations 0)."""
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        config = dict(config)
        name = config.pop("name", cls.name)
        if name != cls.name:
            raise ValueError(f"config describes optimizer {name!r}, not {cls.name!r}")
        valid = cls._config_keys()
        unknown = sorted(set(config) - set(valid))
        if unknown:
            raise ValueError(f"unknown {cls.__name__} config keys {unknown}; "
                             f"valid: {', '.join(valid)}")
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"

    # -------------------------------------------------------------- slots
    def _slot_specs(self):
        """[(slot name, initial value)] for the options chosen, in Keras's order."""
        return []

    @property
    def built(self):
        return self._specs is not None

    @property
    def slots(self):
        """{slot name: [one array per weight]}: the live state (read it, do not replace it)."""
        return {name: list(arrays) for name, arrays in self._slots.items()}

    def build(self, weights):
        """Create the slots for these weights (zeros, or Keras's initial value) in their dtype."""
        specs = _check_weight_list(weights)
        if self.built:
            if specs != self._specs:
                raise ValueError(f"this {type(self).__name__} was built for weights "
                                 f"{_describe(self._specs)}, got {_describe(specs)}; "
                                 f"use a new optimizer for another model")
            return
        self._slots = {name: [np.full(shape, initial, dtype) for shape, dtype in specs]
                       for name, initial in self._slot_specs()}
        self._specs = specs

    # -------------------------------------------------------------- the step
    def _check_apply(self, weights, grads):
        """Everything apply() needs, checked before anything changes; returns the grads as
        C-contiguous arrays of their weight's dtype."""
        specs = _check_weight_list(weights)
        if not isinstance(grads, (list, tuple)):
            raise TypeError(f"grads must be a list of arrays, got {type(grads).__name__}")
        if len(grads) != len(weights):
            raise ValueError(f"grads has {len(grads)} arrays but weights has {len(weights)}")
        if self.built and specs != self._specs:
            raise ValueError(f"this {type(self).__name__} was built for weights "
                             f"{_describe(self._specs)}, got {_describe(specs)}")
        checked = []
        for i, (w, g) in enumerate(zip(weights, grads)):
            if not w.flags.writeable:
                raise ValueError(f"weights[{i}] is read-only; it is updated in place")
            as_array(f"weights[{i}]", w, ndim=w.ndim, allow_int=False, contiguous=False)
            g = as_array(f"grads[{i}]", g, dtype=w.dtype, ndim=w.ndim, allow_int=False)
            if g.shape != w.shape:
                raise ValueError(f"grads[{i}] must have the shape of weights[{i}], {w.shape}, "
                                 f"got {g.shape}")
            checked.append(g)
        return checked

    def apply(self, weights, grads):
        """w <- update(w, g) in place for every (weights[i], grads[i]); iterations += 1.

        Everything is checked first: a failed apply leaves the weights, the slots and
        iterations as they were."""
        grads = self._check_apply(weights, grads)
        self.build(weights)
        self._update(list(weights), grads)
        self.iterations += 1

    def _update(self, weights, grads):
        raise NotImplementedError

    def fused_rule(self):
        """(rule, slots): how the compiled training step runs this optimizer's update itself
        (kernels.DenseTrainer.set_update): the rule's name and, per weight, its slot arrays
        in the rule kernel's order; None when it cannot. Needs build() first."""
        return None

    def fused_scalars(self):
        """The rule's numbers for the next step (t = iterations + 1), for DenseTrainer.step."""
        raise NotImplementedError

    # -------------------------------------------------------------- state
    def get_state(self):
        """[iterations (0-d int64), then the slots: slot name by slot name (Keras's order),
        one array per weight]. Copies: changing them does not change the optimizer."""
        state = [np.array(self.iterations, dtype=np.int64)]
        for name, _ in self._slot_specs():
            state.extend(a.copy() for a in self._slots.get(name, []))
        return state

    def set_state(self, state):
        """Restore what get_state() returned. Checked first (count, shapes, dtypes, finiteness):
        a refused state changes nothing. A built optimizer's slots are overwritten in place (as
        Keras assigns its variables), so whatever holds them sees the restored state; an
        optimizer not built yet takes the weights' shapes and dtypes from the slots."""
        if not isinstance(state, (list, tuple)):
            raise TypeError(f"state must be a list of arrays, got {type(state).__name__}")
        if len(state) == 0:
            raise ValueError("state must start with the iteration count, got an empty list")
        iterations = self._check_iterations(state[0])
        names = [name for name, _ in self._slot_specs()]
        arrays = list(state[1:])
        if self.built:
            specs = self._specs
        elif not names:
            specs = []
        else:
            if len(arrays) % len(names):
                raise ValueError(f"state must hold the iteration count and {len(names)} slot "
                                 f"arrays per weight ({', '.join(names)}), got {len(state)} "
                                 f"arrays")
            specs = _check_weight_list(arrays[:len(arrays) // len(names)], "state slots")
        expected = len(names) * len(specs)
        if len(arrays) != expected:
            raise ValueError(f"state must hold 1 + {expected} arrays (the iteration count, then "
                             f"{', '.join(names) or 'no slots'} for {len(specs)} weights), "
                             f"got {len(state)}")
        slots = {}
        for k, name in enumerate(names):
            slots[name] = []
            for i, (shape, dtype) in enumerate(specs):
                label = f"state[{1 + k * len(specs) + i}] ({name} of weight {i})"
                a = arrays[k * len(specs) + i]
                if not isinstance(a, np.ndarray):
                    raise TypeError(f"{label} must be a NumPy array, got {type(a).__name__}")
                if a.dtype != dtype:
                    raise TypeError(f"{label} must be {dtype.name}, got {a.dtype.name}")
                if tuple(a.shape) != shape:
                    raise ValueError(f"{label} must have shape {shape}, got {a.shape}")
                a = as_array(label, a, dtype=dtype, ndim=len(shape), allow_int=False)
                if name in self._nonnegative and (a < 0).any():
                    raise ValueError(f"{label} must be >= 0 (an average of g^2), "
                                     f"got {a.min()}")
                slots[name].append(a.copy())
        if self.built:
            for name in names:                  # in place: a compiled training step holds them
                for live, new in zip(self._slots[name], slots[name]):
                    live[...] = new
        else:
            self._slots = slots
        self.iterations = iterations
        if not self.built and names:
            self._specs = specs

    @staticmethod
    def _check_iterations(value):
        a = np.asarray(value)
        if a.size != 1 or a.dtype.kind not in "iuf":
            raise ValueError(f"state[0] must be the iteration count (one integer), got {value!r}")
        n = a.reshape(()).item()
        if not float(n).is_integer() or n < 0:
            raise ValueError(f"state[0] must be an integer >= 0 (the iteration count), got {n!r}")
        return int(n)


# ---------------------------------------------------------------- the stochastic optimizers
class SGD(Optimizer):
    """v <- momentum * v - eta * grad;  w <- w + v     (momentum = 0: w <- w - eta * grad)

    Keras 3's SGD. With momentum, its slot (the variable "momentum": m in Keras's code, the
    velocity v of the line above in Keras's docs) follows
        m <- momentum * m - eta * g,    w <- w + m,
    and with nesterov=True the step looks ahead along the new m:
        w <- w + momentum * m - eta * g.

    The lecture writes momentum as  v_t = gamma v_{t-1} + eta dE/dw,  w' = w - v_t,  with its v
    pointing uphill. It is the same update: put v = -m. Then -m_t = gamma (-m_{t-1}) + eta g,
    i.e. m_t = gamma m_{t-1} - eta g, and w' = w - v_t = w + m_t. Both start from zero, so they
    move the weights through the same points; only the stored slot has the opposite sign
    (get_state holds Keras's m). gamma is `momentum`, eta is `learning_rate`.

    Args (Keras's names and defaults):
        learning_rate  eta > 0, default 0.01
        momentum       gamma in [0, 1), default 0.0 (plain SGD, no slot)
        nesterov       Nesterov momentum, default False
    """

    name = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__()
        self.learning_rate = learning_rate
        self.momentum = _fraction("momentum", momentum)
        self.nesterov = flag("nesterov", nesterov)

    def _slot_specs(self):
        return [("momentum", 0.0)] if self.momentum > 0 else []

    def _update(self, weights, grads):
        eta, gamma = self.learning_rate, self.momentum
        if gamma == 0:
            for w, g in zip(weights, grads):
                kernels.sgd_update(w, g, eta)    # w = w - eta g
            return
        for w, g, m in zip(weights, grads, self._slots["momentum"]):
            kernels.sgd_momentum_update(w, g, m, eta, gamma, self.nesterov, check_finite=False)

    def fused_rule(self):
        if self.momentum == 0:
            return "sgd", [()] * len(self._specs)
        return "sgd_momentum", [(m,) for m in self._slots["momentum"]]

    def fused_scalars(self):
        if self.momentum == 0:
            return (self.learning_rate,)
        return (self.learning_rate, self.momentum, float(self.nesterov))


class Adagrad(Optimizer):
    """a <- a + g^2;   w <- w - eta * g / sqrt(a + adagrad_epsilon)

    Keras 3's Adagrad (Duchi et al., 2011): each parameter's step shrinks with the sum of its
    squared gradients. The accumulator a starts at initial_accumulator_value; the stability
    constant (the keyword `epsilon`) sits inside the square root, as in Keras.

    Args (Keras's names and defaults):
        learning_rate              eta > 0, default 0.001
        initial_accumulator_value  >= 0, default 0.1
        epsilon                    > 0, default 1e-7 (adagrad_epsilon in the formulas)
    """

    name = "adagrad"
    _nonnegative = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7):
        super().__init__()
        self.learning_rate = learning_rate
        self.initial_accumulator_value = positive_number(
            "initial_accumulator_value", initial_accumulator_value, allow_zero=True)
        self.epsilon = positive_number("epsilon", epsilon)

    def _slot_specs(self):
        return [("accumulator", self.initial_accumulator_value)]

    def _update(self, weights, grads):
        eta, adagrad_epsilon = self.learning_rate, self.epsilon
        for w, g, a in zip(weights, grads, self._slots["accumulator"]):
            kernels.adagrad_update(w, g, a, eta, adagrad_epsilon, check_finite=False)

    def fused_rule(self):
        return "adagrad", [(a,) for a in self._slots["accumulator"]]

    def fused_scalars(self):
        return (self.learning_rate, self.epsilon)


class RMSprop(Optimizer):
    """v <- rho v + (1 - rho) g^2;   w <- w - eta * g / sqrt(v + rmsprop_epsilon)

    Keras 3's RMSprop (Hinton, 2012): divide the step by the root of a running mean square.
    centered=True also keeps the running mean a of g and divides by
    sqrt(v - a^2 + rmsprop_epsilon), an estimate of the gradient's standard deviation.
    momentum > 0 accumulates the steps:  m <- momentum m + eta g / sqrt(...),  w <- w - m.
    The stability constant (the keyword `epsilon`) sits inside the square root, as in Keras.

    Args (Keras's names and defaults):
        learning_rate  eta > 0, default 0.001
        rho            decay of the running averages, in [0, 1), default 0.9
        momentum       in [0, 1), default 0.0 (no momentum slot)
        epsilon        > 0, default 1e-7 (rmsprop_epsilon in the formulas)
        centered       default False
    """

    name = "rmsprop"
    _nonnegative = ("velocity",)

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False):
        super().__init__()
        self.learning_rate = learning_rate
        self.rho = _fraction("rho", rho)
        self.momentum = _fraction("momentum", momentum)
        self.epsilon = positive_number("epsilon", epsilon)
        self.centered = flag("centered", centered)

    def _slot_specs(self):
        specs = [("velocity", 0.0)]
        if self.momentum > 0:
            specs.append(("momentum", 0.0))
        if self.centered:
            specs.append(("average_gradient", 0.0))
        return specs

    def _update(self, weights, grads):
        eta, rho, gamma, rmsprop_epsilon = (self.learning_rate, self.rho, self.momentum,
                                            self.epsilon)
        n = len(weights)
        momentums = self._slots.get("momentum", [None] * n)
        averages = self._slots.get("average_gradient", [None] * n)
        for w, g, v, m, a in zip(weights, grads, self._slots["velocity"], momentums, averages):
            kernels.rmsprop_update(w, g, v, eta, rho, rmsprop_epsilon,
                                   average_grad=a, m=m, momentum=gamma, check_finite=False)

    def fused_rule(self):
        n = len(self._specs)
        return "rmsprop", list(zip(self._slots["velocity"],
                                   self._slots.get("average_gradient", [None] * n),
                                   self._slots.get("momentum", [None] * n)))

    def fused_scalars(self):
        return (self.learning_rate, self.rho, self.momentum, self.epsilon)


class Adam(Optimizer):
    """m <- beta_1 m + (1 - beta_1) g;  v <- beta_2 v + (1 - beta_2) g^2;
    w <- w - alpha m / (sqrt(v) + adam_epsilon),   alpha = eta sqrt(1 - beta_2^t) / (1 - beta_1^t)

    Keras 3's Adam (Kingma and Ba, 2014) in the paper's efficient form (end of its Section 2):
    alpha carries both bias corrections, so adam_epsilon (the keyword `epsilon`) is the paper's
    "epsilon hat", added to sqrt(v) outside the root. This equals the textbook form
        w <- w - eta m_hat / (sqrt(v_hat) + adam_epsilon / sqrt(1 - beta_2^t)),
        m_hat = m / (1 - beta_1^t),  v_hat = v / (1 - beta_2^t).
    amsgrad=True (Reddi et al., 2018) divides by the running maximum of v instead of v.

    Args (Keras's names and defaults):
        learning_rate  eta > 0, default 0.001
        beta_1         decay of the first moment, in [0, 1), default 0.9
        beta_2         decay of the second moment, in [0, 1), default 0.999
        epsilon        > 0, default 1e-7 (adam_epsilon in the formulas)
        amsgrad        default False
    """

    name = "adam"
    _nonnegative = ("velocity", "velocity_hat")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False):
        super().__init__()
        self.learning_rate = learning_rate
        self.beta_1 = _fraction("beta_1", beta_1)
        self.beta_2 = _fraction("beta_2", beta_2)
        self.epsilon = positive_number("epsilon", epsilon)
        self.amsgrad = flag("amsgrad", amsgrad)

    def _slot_specs(self):
        specs = [("momentum", 0.0), ("velocity", 0.0)]
        if self.amsgrad:
            specs.append(("velocity_hat", 0.0))
        return specs

    def _alpha(self):
        """alpha = eta sqrt(1 - beta_2^t) / (1 - beta_1^t): both bias corrections, t = step"""
        t = self.iterations + 1
        return self.learning_rate * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)

    def _update(self, weights, grads):
        alpha = self._alpha()
        n = len(weights)
        v_hats = self._slots.get("velocity_hat", [None] * n)
        for w, g, m, v, v_hat in zip(weights, grads, self._slots["momentum"],
                                     self._slots["velocity"], v_hats):
            kernels.adam_update(w, g, m, v, alpha, self.beta_1, self.beta_2, self.epsilon,
                                v_hat=v_hat, check_finite=False)

    def fused_rule(self):
        n = len(self._specs)
        return "adam", list(zip(self._slots["momentum"], self._slots["velocity"],
                                self._slots.get("velocity_hat", [None] * n)))

    def fused_scalars(self):
        return (self._alpha(), self.beta_1, self.beta_2, self.epsilon)


# ---------------------------------------------------------------- full batch
class LBFGS(Optimizer):
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
    stochastic = False

    def __init__(self, max_iterations=15000, tolerance=1e-5, history_size=10,
                 ftol=2.220446049250313e-09, max_function_evals=15000):
        super().__init__()
        self.max_iterations = positive_int("max_iterations", max_iterations)
        self.tolerance = positive_number("tolerance", tolerance, allow_zero=True)
        self.history_size = positive_int("history_size", history_size)
        self.ftol = positive_number("ftol", ftol, allow_zero=True)
        self.max_function_evals = positive_int("max_function_evals", max_function_evals)

    def apply(self, weights, grads):
        raise TypeError("LBFGS is a full-batch optimizer (stochastic = False): call "
                        "minimize(fun, x0) with the loss and gradient of the whole data set")

    def minimize(self, fun, x0):
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
        info = {"stop_reason": str(message), "success": bool(result.success),
                "grad_norm": float(np.linalg.norm(grad)),
                "grad_max": float(np.max(np.abs(grad))) if grad.size else 0.0,
                "n_iterations": int(result.nit), "n_function_evals": int(result.nfev),
                "loss": float(result.fun)}
        self.iterations += info["n_iterations"]
        return np.array(result.x, dtype=np.float64), info


# ---------------------------------------------------------------- lookup
OPTIMIZERS = {cls.name: cls for cls in (SGD, Adagrad, RMSprop, Adam, LBFGS)}
_CLASS_NAMES = {cls.__name__: cls.name for cls in OPTIMIZERS.values()}


def deserialize(config):
    """The optimizer get_config() described: config["name"] picks the class."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    if "name" not in config:
        raise ValueError(f"config must name the optimizer (key 'name'; valid: "
                         f"{', '.join(sorted(OPTIMIZERS))}), got keys {sorted(config)}")
    name = _CLASS_NAMES.get(config["name"], config["name"])
    cls = OPTIMIZERS[choice("optimizer", name, OPTIMIZERS)]
    return cls.from_config({**config, "name": cls.name})


def get(identifier):
    """An Optimizer from a name ("sgd", "adagrad", "rmsprop", "adam", "lbfgs", or the class
    name as in Keras, e.g. "Adam"), a config dict, or an Optimizer (returned as it is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        name = _CLASS_NAMES.get(identifier, identifier)
        return OPTIMIZERS[choice("optimizer", name, OPTIMIZERS)]()
    raise TypeError(f"optimizer must be a name ({', '.join(sorted(OPTIMIZERS))}), a config "
                    f"dict or an Optimizer, got {type(identifier).__name__} {identifier!r}")
