"""Optimizers against the published update rules, written out here in NumPy (Keras 3 conventions).

Each reference below is an independent formulation: SGD in the lecture's v = gamma v + eta g,
Adam in the paper's bias-corrected m_hat / v_hat form. The optimizers run the fused C kernels;
the references run float64 NumPy. Non-default hyper-parameters with a large stability
constant (Keras's keyword `epsilon`) make its placement, inside or outside the square root,
visible at the tolerances used.
"""
import json

import numpy as np
import pytest

from refnn import kernels, optimizers
from refnn.optimizers import LBFGS, SGD, Adagrad, Adam, Adamax, Nadam, RMSprop
from refnn.reference.optimizers import REFERENCES

TOL = {np.float32: 1e-6, np.float64: 1e-12}
DTYPES = [np.float32, np.float64]
SHAPES = [(3, 4), (4,)]                    # a kernel W and a bias b
SCALES = [1.0, 0.005, 0.3]                 # |g| drops, then rises: v shrinks at step 2 (AMSGrad)


# ---------------------------------------------------------------- the published rules
# (the twins: refnn/reference/optimizers.py)

CASES = [
    ("sgd", {}),
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.5, "nesterov": True}),
    ("adagrad", {}),
    ("adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 0.1}),
    ("rmsprop", {}),
    ("rmsprop", {"momentum": 0.9}),
    ("rmsprop", {"centered": True}),
    ("rmsprop", {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.5, "epsilon": 0.01,
                 "centered": True}),
    ("adam", {}),
    ("adam", {"amsgrad": True}),
    ("adam", {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.6, "epsilon": 0.1}),
    ("adam", {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.6, "epsilon": 0.1,
              "amsgrad": True}),
    ("nadam", {}),
    ("nadam", {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.6, "epsilon": 0.1}),
    ("adamax", {}),
    ("adamax", {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.6, "epsilon": 0.1}),
]
CASE_IDS = [name + "".join(f"-{k}={v}" for k, v in cfg.items()) for name, cfg in CASES]


def problem(dtype, seed=0):
    """Weights [W (3, 4), b (4,)] and three steps of gradients, in `dtype`."""
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(-1, 1, s).astype(dtype) for s in SHAPES]
    steps = [[(scale * rng.uniform(0.5, 1.5, s) * rng.choice([-1.0, 1.0], s)).astype(dtype)
              for s in SHAPES] for scale in SCALES]
    return weights, steps


def reference_trajectory(name, config, weights, steps):
    """[per step: [per weight: (w, slots)]] in float64 from the (rounded) inputs."""
    per_weight = [list(REFERENCES[name](w.astype(np.float64),
                                        [step[i].astype(np.float64) for step in steps],
                                        **config))
                  for i, w in enumerate(weights)]
    return [[per_weight[i][t] for i in range(len(weights))] for t in range(len(steps))]


def run(name, config, weights, steps):
    """The optimizer's weights and slots after each step (copies)."""
    opt = optimizers.get({"name": name, **config})
    weights = [w.copy() for w in weights]
    out = []
    for grads in steps:
        opt.apply(weights, grads)
        out.append(([w.copy() for w in weights],
                    {k: [a.copy() for a in arrays] for k, arrays in opt.slots.items()}))
    return opt, out


# ---------------------------------------------------------------- the updates
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, config", CASES, ids=CASE_IDS)
def test_first_three_steps_equal_the_published_update(name, config, dtype):
    weights, steps = problem(dtype)
    expected = reference_trajectory(name, config, weights, steps)
    opt, got = run(name, config, weights, steps)
    tol = TOL[dtype]
    assert opt.iterations == 3
    for t, ((got_w, got_slots), want) in enumerate(zip(got, expected)):
        assert sorted(got_slots) == sorted(want[0][1]), f"step {t + 1}: slot names"
        for i, (want_w, want_slots) in enumerate(want):
            assert got_w[i].dtype == dtype
            np.testing.assert_allclose(got_w[i], want_w, rtol=tol, atol=tol,
                                       err_msg=f"step {t + 1}, weight {i}")
            for slot, want_s in want_slots.items():
                assert got_slots[slot][i].dtype == dtype
                np.testing.assert_allclose(got_slots[slot][i], want_s, rtol=tol, atol=tol,
                                           err_msg=f"step {t + 1}, weight {i}, slot {slot}")


@pytest.mark.parametrize("name, base, option", [
    ("sgd", {}, {"momentum": 0.9}),
    ("sgd", {"momentum": 0.9}, {"nesterov": True}),
    ("rmsprop", {}, {"momentum": 0.9}),
    ("rmsprop", {}, {"centered": True}),
    ("adam", {}, {"amsgrad": True}),
    ("adam", {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.6}, {"amsgrad": True}),
    ("adagrad", {"epsilon": 0.1}, {"epsilon": 0.2}),
])
def test_each_option_changes_the_trajectory_beyond_the_tolerance(name, base, option):
    """So that the float64 reference test above would notice an option being ignored."""
    weights, steps = problem(np.float64)
    _, off = run(name, base, weights, steps)
    _, on = run(name, {**base, **option}, weights, steps)
    change = max(np.max(np.abs(a - b)) for a, b in zip(off[-1][0], on[-1][0]))
    assert change > 1000 * TOL[np.float64]


def test_the_lecture_momentum_is_keras_momentum_with_v_equal_minus_m():
    """v_t = gamma v + eta g, w' = w - v_t (worked by hand) == Keras m = gamma m - eta g, w += m"""
    w, opt = [np.array([1.0, -2.0])], SGD(learning_rate=0.1, momentum=0.5)
    opt.apply(w, [np.array([2.0, 4.0])])
    # v1 = 0.1 * [2, 4] = [0.2, 0.4];  w1 = [1 - 0.2, -2 - 0.4] = [0.8, -2.4]
    np.testing.assert_allclose(w[0], [0.8, -2.4], rtol=0, atol=1e-15)
    np.testing.assert_allclose(opt.slots["momentum"][0], [-0.2, -0.4], rtol=0, atol=1e-15)
    opt.apply(w, [np.array([1.0, -1.0])])
    # v2 = 0.5 * [0.2, 0.4] + 0.1 * [1, -1] = [0.2, 0.1];  w2 = [0.6, -2.5]
    np.testing.assert_allclose(w[0], [0.6, -2.5], rtol=0, atol=1e-15)
    np.testing.assert_allclose(opt.slots["momentum"][0], [-0.2, -0.1], rtol=0, atol=1e-15)


def test_adam_first_step_moves_each_weight_by_about_the_learning_rate():
    """t = 1: m_hat = g, v_hat = g^2, so w' = w - eta g / (|g| + adam_epsilon/sqrt(1 - beta_2))."""
    w = [np.array([0.0, 0.0, 0.0])]
    Adam(learning_rate=0.01).apply(w, [np.array([3.0, -0.5, 1e-3])])
    expected = -0.01 * np.array([3.0, -0.5, 1e-3]) / (np.array([3.0, 0.5, 1e-3])
                                                       + 1e-7 / np.sqrt(0.001))
    np.testing.assert_allclose(w[0], expected, rtol=1e-13)
    assert np.all(np.abs(w[0]) > 0.0099)


def test_slots_follow_keras_names_and_initial_values():
    w = [np.zeros((2, 3)), np.zeros(3)]
    for opt, names in [(SGD(), []), (SGD(momentum=0.5), ["momentum"]),
                       (Adagrad(), ["accumulator"]),
                       (RMSprop(), ["velocity"]),
                       (RMSprop(momentum=0.1, centered=True),
                        ["velocity", "momentum", "average_gradient"]),
                       (Adam(), ["momentum", "velocity"]),
                       (Adam(amsgrad=True), ["momentum", "velocity", "velocity_hat"])]:
        opt.build(w)
        assert list(opt.slots) == names
        for arrays in opt.slots.values():
            assert [a.shape for a in arrays] == [(2, 3), (3,)]
    acc = Adagrad(initial_accumulator_value=0.25)
    acc.build(w)
    assert all(np.all(a == 0.25) for a in acc.slots["accumulator"])


def test_learning_rate_can_be_changed_between_steps_and_is_checked():
    w = [np.array([1.0])]
    opt = SGD(learning_rate=0.1)
    opt.apply(w, [np.array([1.0])])
    opt.learning_rate = 0.5
    opt.apply(w, [np.array([1.0])])
    assert w[0][0] == pytest.approx(1.0 - 0.1 - 0.5, abs=1e-15)
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = -1.0
    assert opt.learning_rate == 0.5


# ---------------------------------------------------------------- state
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, config", CASES, ids=CASE_IDS)
def test_state_round_trip_continues_identically(name, config, dtype):
    weights, steps = problem(dtype, seed=1)
    a = optimizers.get({"name": name, **config})
    wa = [w.copy() for w in weights]
    for grads in steps[:2]:
        a.apply(wa, grads)
    state = a.get_state()
    assert state[0].shape == () and int(state[0]) == 2
    json.dumps([s.tolist() for s in state])
    wb, wc = [w.copy() for w in wa], [w.copy() for w in wa]
    b = optimizers.deserialize(a.get_config())      # built, then restored (as load_model does)
    b.build(wb)
    b.set_state(state)
    c = optimizers.deserialize(a.get_config())      # restored before it was built
    c.set_state(state)
    for opt, w in ((a, wa), (b, wb), (c, wc)):
        opt.apply(w, steps[2])
        assert opt.iterations == 3
    for x, y, z in zip(wa, wb, wc):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)
    for s, t in zip(a.get_state(), b.get_state()):
        np.testing.assert_array_equal(s, t)


def test_get_state_returns_copies_and_orders_slots_like_keras():
    w = [np.ones((2, 2)), np.ones(2)]
    opt = Adam(amsgrad=True)
    opt.apply(w, [np.ones((2, 2)), np.ones(2)])
    state = opt.get_state()
    assert [s.shape for s in state] == [(), (2, 2), (2,), (2, 2), (2,), (2, 2), (2,)]
    np.testing.assert_array_equal(state[1], opt.slots["momentum"][0])
    np.testing.assert_array_equal(state[3], opt.slots["velocity"][0])
    np.testing.assert_array_equal(state[6], opt.slots["velocity_hat"][1])
    state[1][...] = 99.0
    assert not np.any(opt.slots["momentum"][0] == 99.0)


def _bad_states(state):
    """(description, state, exception) for an Adam(amsgrad) state of weights (2, 2), (2,)."""
    wrong_dtype = list(state)
    wrong_dtype[2] = state[2].astype(np.float32)
    wrong_shape = list(state)
    wrong_shape[1] = np.zeros((2, 3))
    nan = [s.copy() for s in state]
    nan[3][0, 0] = np.nan
    negative_v = [s.copy() for s in state]
    negative_v[4][1] = -1.0
    return [("too few", state[:-1], ValueError),
            ("too many", state + [state[-1]], ValueError),
            ("empty", [], ValueError),
            ("not a list", state[0], TypeError),
            ("wrong dtype", wrong_dtype, TypeError),
            ("wrong shape", wrong_shape, ValueError),
            ("nan", nan, ValueError),
            ("negative velocity", negative_v, ValueError),
            ("negative iterations", [np.array(-1)] + state[1:], ValueError),
            ("fractional iterations", [np.array(1.5)] + state[1:], ValueError),
            ("not arrays", [state[0]] + [s.tolist() for s in state[1:]], TypeError)]


@pytest.mark.parametrize("case", range(11))
def test_set_state_refuses_bad_state_and_changes_nothing(case):
    w = [np.ones((2, 2)), np.ones(2)]
    opt = Adam(amsgrad=True)
    opt.apply(w, [np.full((2, 2), 0.5), np.full(2, -0.5)])
    before = opt.get_state()
    what, bad, error = _bad_states(opt.get_state())[case]
    with pytest.raises(error):
        opt.set_state(bad)
    after = opt.get_state()
    assert len(after) == len(before), what
    for x, y in zip(after, before):
        np.testing.assert_array_equal(x, y)


def test_set_state_on_an_unbuilt_optimizer_checks_the_layout():
    with pytest.raises(ValueError, match="slot arrays per weight"):
        Adam().set_state([np.array(1), np.zeros(2), np.zeros(3), np.zeros(2)])
    with pytest.raises(ValueError, match="1 \\+ 0 arrays"):
        SGD().set_state([np.array(1), np.zeros(2)])
    opt = SGD()
    opt.set_state([np.array(7)])
    assert opt.iterations == 7 and not opt.built


# ---------------------------------------------------------------- failed apply
def _bad_apply(kind, weights, grads):
    """(weights, grads, exception) with the defect in the LAST array, after the first ones
    would already have been updated by an optimizer that checks as it goes."""
    w, g = list(weights), [x.copy() for x in grads]
    if kind == "count":
        return w, g[:-1], ValueError
    if kind == "shape":
        g[-1] = np.ones(g[-1].size + 1)
        return w, g, ValueError
    if kind == "dtype":
        g[-1] = g[-1].astype(np.float32)
        return w, g, TypeError
    if kind == "nan":
        g[-1][1] = np.nan
        return w, g, ValueError
    if kind == "inf weight":
        w[-1] = w[-1].copy()
        w[-1][0] = np.inf
        return w, g, ValueError
    if kind == "read-only weight":
        w[-1] = w[-1].copy()
        w[-1].flags.writeable = False
        return w, g, ValueError
    if kind == "list weight":
        w[-1] = w[-1].tolist()
        return w, g, TypeError
    if kind == "other model":
        w[-1] = np.ones(7)
        g[-1] = np.ones(7)
        return w, g, ValueError
    if kind == "grads not a list":
        return w, g[0], TypeError
    raise AssertionError(kind)


BAD_APPLY = ["count", "shape", "dtype", "nan", "inf weight", "read-only weight", "list weight",
             "other model", "grads not a list"]
FULL_OPTIONS = [SGD(momentum=0.9, nesterov=True), Adagrad(), RMSprop(momentum=0.5, centered=True),
                Adam(amsgrad=True)]


@pytest.mark.parametrize("kind", BAD_APPLY)
@pytest.mark.parametrize("index", range(len(FULL_OPTIONS)),
                         ids=[type(o).__name__ for o in FULL_OPTIONS])
def test_a_failed_apply_leaves_weights_slots_and_iterations_unchanged(index, kind):
    opt = optimizers.deserialize(FULL_OPTIONS[index].get_config())
    weights, steps = problem(np.float64, seed=2)
    opt.apply(weights, steps[0])                       # slots are non-zero now
    w_before = [w.copy() for w in weights]
    state_before = opt.get_state()
    bad_w, bad_g, error = _bad_apply(kind, weights, steps[1])
    with pytest.raises(error):
        opt.apply(bad_w, bad_g)
    assert opt.iterations == 1
    for w, b in zip(weights, w_before):
        np.testing.assert_array_equal(w, b)
    for s, b in zip(opt.get_state(), state_before):
        np.testing.assert_array_equal(s, b)
    opt.apply(weights, steps[1])                       # and it still works afterwards
    assert opt.iterations == 2


def test_a_failed_first_apply_leaves_the_optimizer_unbuilt():
    opt = Adam()
    with pytest.raises(ValueError, match="grads has 1 arrays but weights has 2"):
        opt.apply([np.ones(2), np.ones(3)], [np.ones(2)])
    assert not opt.built and opt.iterations == 0
    opt.apply([np.ones(5)], [np.ones(5)])
    assert opt.slots["momentum"][0].shape == (5,)


def test_error_messages_name_the_argument_and_the_values():
    opt = SGD()
    with pytest.raises(ValueError, match=r"grads\[1\] must have the shape of weights\[1\], "
                                         r"\(3,\), got \(4,\)"):
        opt.apply([np.ones(2), np.ones(3)], [np.ones(2), np.ones(4)])
    with pytest.raises(TypeError, match=r"grads\[0\] must have dtype float32.*got float64"):
        opt.apply([np.ones(2, np.float32)], [np.ones(2)])
    with pytest.raises(ValueError, match=r"grads\[0\] must be finite, got nan at index 1"):
        opt.apply([np.ones(2)], [np.array([0.0, np.nan])])


# ---------------------------------------------------------------- config and lookup
KERAS_DEFAULTS = {
    "sgd": {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False},
    "adagrad": {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7},
    "rmsprop": {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7,
                "centered": False},
    "adam": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
             "amsgrad": False},
    "nadam": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    "adamax": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    "adamw": {"learning_rate": 0.001, "weight_decay": 0.004, "beta_1": 0.9, "beta_2": 0.999,
              "epsilon": 1e-7, "amsgrad": False},
}
# every optimizer's (Keras 3's BaseOptimizer): no weight decay, no clipping
BASE_DEFAULTS = {"weight_decay": None, "clipnorm": None, "clipvalue": None,
                 "global_clipnorm": None}


@pytest.mark.parametrize("name", sorted(KERAS_DEFAULTS))
def test_defaults_are_keras_defaults(name):
    assert optimizers.get(name).get_config() == {"name": name, **BASE_DEFAULTS,
                                                 **KERAS_DEFAULTS[name]}


def test_lbfgs_defaults_are_scipys():
    assert LBFGS().get_config() == {"name": "lbfgs", "max_iterations": 15000, "tolerance": 1e-5,
                                    "history_size": 10, "ftol": 2.220446049250313e-09,
                                    "max_function_evals": 15000}


@pytest.mark.parametrize("name, config", CASES + [("lbfgs", {"max_iterations": 50})],
                         ids=CASE_IDS + ["lbfgs"])
def test_config_round_trip(name, config):
    opt = optimizers.get({"name": name, **config})
    cfg = opt.get_config()
    assert json.loads(json.dumps(cfg)) == cfg
    assert {k: cfg[k] for k in config} == config
    again = type(opt).from_config(cfg)
    assert type(again) is type(opt) and again.get_config() == cfg
    assert optimizers.deserialize(cfg).get_config() == cfg
    assert repr(opt).startswith(type(opt).__name__ + "(")


def test_get_resolves_names_class_names_configs_and_instances():
    for ident, cls in [("sgd", SGD), ("SGD", SGD), ("adagrad", Adagrad), ("Adagrad", Adagrad),
                       ("rmsprop", RMSprop), ("RMSprop", RMSprop), ("adam", Adam),
                       ("Adam", Adam), ("lbfgs", LBFGS), ("LBFGS", LBFGS)]:
        assert type(optimizers.get(ident)) is cls
    opt = Adam(learning_rate=0.1)
    assert optimizers.get(opt) is opt
    assert optimizers.get({"name": "adam", "learning_rate": 0.1}).learning_rate == 0.1
    assert optimizers.get("adam").stochastic and not optimizers.get("lbfgs").stochastic


@pytest.mark.parametrize("ident, error, match", [
    ("adadelta", ValueError, "unknown optimizer 'adadelta'; valid: adagrad, adam, adamax, "
                            "adamw, lbfgs, nadam, rmsprop, sgd"),
    (3, TypeError, "optimizer must be a name"),
    (None, TypeError, "optimizer must be a name"),
    ({"learning_rate": 0.1}, ValueError, "key 'name'"),
    ({"name": "adam", "lr": 0.1}, ValueError, r"unknown Adam config keys \['lr'\]"),
    ({"name": "ftrl"}, ValueError, "unknown optimizer 'ftrl'"),
])
def test_get_refuses_unknown_identifiers(ident, error, match):
    with pytest.raises(error, match=match):
        optimizers.get(ident)


def test_from_config_refuses_another_optimizers_config():
    with pytest.raises(ValueError, match="describes optimizer 'sgd', not 'adam'"):
        Adam.from_config(SGD().get_config())


@pytest.mark.parametrize("cls, kwargs, error, match", [
    (SGD, {"learning_rate": 0.0}, ValueError, "learning_rate must be a finite number > 0"),
    (SGD, {"learning_rate": -0.1}, ValueError, "learning_rate"),
    (SGD, {"learning_rate": float("nan")}, ValueError, "learning_rate"),
    (SGD, {"learning_rate": float("inf")}, ValueError, "learning_rate"),
    (SGD, {"learning_rate": "0.1"}, TypeError, "learning_rate must be a number"),
    (SGD, {"learning_rate": True}, TypeError, "learning_rate must be a number"),
    (SGD, {"momentum": -0.1}, ValueError, "momentum"),
    (SGD, {"momentum": 1.0}, ValueError, r"momentum must be in \[0, 1\), got 1.0"),
    (SGD, {"nesterov": "yes"}, TypeError, "nesterov must be True or False"),
    (Adagrad, {"initial_accumulator_value": -1.0}, ValueError, "initial_accumulator_value"),
    (Adagrad, {"epsilon": 0.0}, ValueError, "epsilon must be a finite number > 0"),
    (RMSprop, {"rho": 1.0}, ValueError, "rho"),
    (RMSprop, {"rho": -0.5}, ValueError, "rho"),
    (RMSprop, {"momentum": 1.5}, ValueError, "momentum"),
    (RMSprop, {"epsilon": -1e-7}, ValueError, "epsilon"),
    (RMSprop, {"centered": 1}, TypeError, "centered"),
    (Adam, {"beta_1": 1.0}, ValueError, "beta_1"),
    (Adam, {"beta_2": 1.0}, ValueError, "beta_2"),
    (Adam, {"beta_2": -0.001}, ValueError, "beta_2"),
    (Adam, {"epsilon": float("nan")}, ValueError, "epsilon"),
    (Adam, {"amsgrad": None}, TypeError, "amsgrad"),
    (LBFGS, {"max_iterations": 0}, ValueError, "max_iterations"),
    (LBFGS, {"max_iterations": 1.5}, TypeError, "max_iterations"),
    (LBFGS, {"history_size": 0}, ValueError, "history_size"),
    (LBFGS, {"tolerance": -1.0}, ValueError, "tolerance"),
    (LBFGS, {"ftol": float("nan")}, ValueError, "ftol"),
])
def test_bad_hyper_parameters_are_refused(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)


def test_build_is_a_no_op_for_the_same_weights_and_refuses_others():
    w = [np.ones((2, 2))]
    opt = Adam()
    opt.build(w)
    opt.apply(w, [np.ones((2, 2))])
    m = opt.slots["momentum"][0].copy()
    opt.build([np.zeros((2, 2))])                        # the model builds again: state kept
    np.testing.assert_array_equal(opt.slots["momentum"][0], m)
    with pytest.raises(ValueError, match=r"built for weights \[float64\[2, 2\]\]"):
        opt.build([np.ones((2, 2), np.float32)])


# ---------------------------------------------------------------- the kernels' entry points
def _noncontiguous(a):
    """The same values in a strided view (every other column of a wider array)."""
    wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    view = wide[..., ::2]
    view[...] = a
    assert not view.flags.c_contiguous
    return view


def _kernel_cases():
    """(id, call, numpy) with call(w, grad, slots) and numpy(w, grad, slots) -> (w, slots),
    both Keras's formulas with the scalars given."""
    def sgd(nesterov):
        def call(w, g, s):
            kernels.sgd_momentum_update(w, g, s["m"], 0.1, 0.8, nesterov)

        def numpy(w, g, s):
            m = 0.8 * s["m"] - 0.1 * g
            return (w + 0.8 * m - 0.1 * g if nesterov else w + m), {"m": m}
        return call, numpy, ["m"]

    def adagrad():
        def call(w, g, s):
            kernels.adagrad_update(w, g, s["accumulator"], 0.1, 0.01)

        def numpy(w, g, s):
            a = s["accumulator"] + g * g
            return w - 0.1 * g / np.sqrt(a + 0.01), {"accumulator": a}
        return call, numpy, ["accumulator"]

    def rmsprop(centered, momentum):
        names = ["velocity"] + (["average_grad"] if centered else []) + (["m"] if momentum else [])

        def call(w, g, s):
            kernels.rmsprop_update(w, g, s["velocity"], 0.05, 0.7, 0.01,
                                   average_grad=s.get("average_grad"), m=s.get("m"),
                                   momentum=0.6 if momentum else 0.0)

        def numpy(w, g, s):
            out = {"velocity": 0.7 * s["velocity"] + 0.3 * g * g}
            denominator = out["velocity"] + 0.01
            if centered:
                out["average_grad"] = 0.7 * s["average_grad"] + 0.3 * g
                denominator = denominator - out["average_grad"] ** 2
            step = 0.05 * g / np.sqrt(denominator)
            if momentum:
                out["m"] = 0.6 * s["m"] + step
                step = out["m"]
            return w - step, out
        return call, numpy, names

    def adam(amsgrad):
        names = ["m", "v"] + (["v_hat"] if amsgrad else [])

        def call(w, g, s):
            kernels.adam_update(w, g, s["m"], s["v"], 0.02, 0.8, 0.9, 0.05,
                                v_hat=s.get("v_hat"))

        def numpy(w, g, s):
            out = {"m": 0.8 * s["m"] + 0.2 * g, "v": 0.9 * s["v"] + 0.1 * g * g}
            second = out["v"]
            if amsgrad:
                out["v_hat"] = second = np.maximum(s["v_hat"], out["v"])
            return w - 0.02 * out["m"] / (np.sqrt(second) + 0.05), out
        return call, numpy, names

    return {"sgd_momentum": sgd(False), "sgd_nesterov": sgd(True), "adagrad": adagrad(),
            "rmsprop": rmsprop(False, False), "rmsprop_momentum": rmsprop(False, True),
            "rmsprop_centered": rmsprop(True, False),
            "rmsprop_centered_momentum": rmsprop(True, True),
            "adam": adam(False), "adam_amsgrad": adam(True)}


KERNELS = _kernel_cases()


def _kernel_inputs(names, dtype, seed=3):
    rng = np.random.default_rng(seed)
    w = rng.uniform(-1, 1, (3, 5)).astype(dtype)
    g = rng.uniform(-1, 1, (3, 5)).astype(dtype)
    # second-moment slots: positive and above the mean's square (as running averages are)
    slots = {n: (rng.uniform(0.5, 1.0, (3, 5)) if n in ("velocity", "v", "v_hat", "accumulator")
                 else rng.uniform(-0.5, 0.5, (3, 5))).astype(dtype) for n in names}
    return w, g, slots


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("contiguous", [True, False], ids=["contiguous", "strided"])
@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_kernel_entry_points_equal_the_numpy_formulas(kernel, contiguous, dtype):
    call, numpy, names = KERNELS[kernel]
    w, g, slots = _kernel_inputs(names, dtype)
    want_w, want_slots = numpy(w.astype(np.float64), g.astype(np.float64),
                               {k: v.astype(np.float64) for k, v in slots.items()})
    if not contiguous:
        w, g = _noncontiguous(w), _noncontiguous(g)
        slots = {k: _noncontiguous(v) for k, v in slots.items()}
    call(w, g, slots)                                  # written back into the strided views
    tol = TOL[dtype]
    np.testing.assert_allclose(w, want_w, rtol=tol, atol=tol)
    for k in names:
        np.testing.assert_allclose(slots[k], want_slots[k], rtol=tol, atol=tol, err_msg=k)
        assert slots[k].dtype == dtype
    if not contiguous:                                 # the columns in between are untouched
        assert not np.any(w.base[..., 1::2]) and not np.any(g.base[..., 1::2])


@pytest.mark.parametrize("defect", ["read-only", "dtype", "shape", "list"])
@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_kernel_entry_points_refuse_bad_slots_and_change_nothing(kernel, defect):
    call, _, names = KERNELS[kernel]
    w, g, slots = _kernel_inputs(names, np.float64)
    last = names[-1]
    if defect == "read-only":
        slots[last].flags.writeable = False
        error, match = ValueError, f"{last} is read-only"
    elif defect == "dtype":
        slots[last] = slots[last].astype(np.float32)
        error, match = TypeError, f"{last} must have dtype float64 like w, got float32"
    elif defect == "shape":
        slots[last] = slots[last][:, :4].copy()
        error, match = ValueError, f"{last} must have the shape of w"
    else:
        slots[last] = slots[last].tolist()
        error, match = TypeError, f"{last} must be a NumPy array"
    w0 = w.copy()
    s0 = {k: np.array(v, copy=True) for k, v in slots.items()}
    with pytest.raises(error, match=match):
        call(w, g, slots)
    np.testing.assert_array_equal(w, w0)
    for k in names:
        np.testing.assert_array_equal(slots[k], s0[k])


@pytest.mark.parametrize("call, error, match", [
    (lambda w, g, s: kernels.sgd_momentum_update(w, g, s, 0.1, 1.0), ValueError, "momentum"),
    (lambda w, g, s: kernels.sgd_momentum_update(w, g, s, 0.0, 0.5), ValueError, "eta"),
    (lambda w, g, s: kernels.sgd_momentum_update(w, g, s, 0.1, 0.5, 1), TypeError, "nesterov"),
    (lambda w, g, s: kernels.adagrad_update(w, g, s, 0.1, 0.0), ValueError, "adagrad_epsilon"),
    (lambda w, g, s: kernels.rmsprop_update(w, g, s, 0.1, 1.0, 1e-7), ValueError, "rho"),
    (lambda w, g, s: kernels.rmsprop_update(w, g, s, 0.1, 0.9, 1e-7, momentum=0.5),
     ValueError, "needs the momentum slot m"),
    (lambda w, g, s: kernels.rmsprop_update(w, g, s, 0.1, 0.9, float("inf")),
     ValueError, "rmsprop_epsilon"),
    (lambda w, g, s: kernels.adam_update(w, g, s, s.copy(), float("nan"), 0.9, 0.999, 1e-7),
     ValueError, "alpha"),
    (lambda w, g, s: kernels.adam_update(w, g, s, s.copy(), 0.1, -0.9, 0.999, 1e-7),
     ValueError, "beta_1"),
    (lambda w, g, s: kernels.adam_update(w, g, s, s.copy(), 0.1, 0.9, 1.0, 1e-7),
     ValueError, "beta_2"),
    (lambda w, g, s: kernels.adam_update(w, g, s, s.copy(), 0.1, 0.9, 0.999, 0),
     ValueError, "adam_epsilon"),
    (lambda w, g, s: kernels.adam_update(w, g * np.nan, s, s.copy(), 0.1, 0.9, 0.999, 1e-7),
     ValueError, "grad must be finite"),
    (lambda w, g, s: kernels.adam_update(w.astype(int), g, s, s.copy(), 0.1, 0.9, 0.999, 1e-7),
     TypeError, "w must be float32 or float64"),
    (lambda w, g, s: kernels.adagrad_update(w, g[:2], s, 0.1, 1e-7),
     ValueError, "grad must have the shape of w"),
])
def test_kernel_entry_points_refuse_bad_scalars_and_arrays(call, error, match):
    w, g, s = np.ones((3, 2)), np.full((3, 2), 0.5), np.full((3, 2), 0.25)
    with pytest.raises(error, match=match):
        call(w, g, s)
    assert np.all(w == 1.0) and np.all(s == 0.25)


# ---------------------------------------------------------------- L-BFGS
def rosenbrock(x):
    """f = sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, minimum 0 at x = (1, ..., 1)."""
    a, b = x[:-1], x[1:]
    f = np.sum(100.0 * (b - a ** 2) ** 2 + (1.0 - a) ** 2)
    grad = np.zeros_like(x)
    grad[:-1] = -400.0 * a * (b - a ** 2) - 2.0 * (1.0 - a)
    grad[1:] += 200.0 * (b - a ** 2)
    return f, grad


def test_lbfgs_minimises_rosenbrock():
    opt = LBFGS(tolerance=1e-10, ftol=1e-15)
    x0 = np.array([-1.2, 1.0, -0.5, 0.8])
    x, info = opt.minimize(rosenbrock, x0)
    np.testing.assert_allclose(x, np.ones(4), atol=1e-6)
    assert info["success"] and "CONVERGENCE" in info["stop_reason"]
    assert info["loss"] == pytest.approx(rosenbrock(x)[0]) and info["loss"] < 1e-12
    assert info["grad_norm"] == pytest.approx(np.linalg.norm(rosenbrock(x)[1]), abs=1e-12)
    assert info["grad_max"] <= info["grad_norm"] < 1e-5
    assert 10 < info["n_iterations"] <= info["n_function_evals"]
    assert opt.iterations == info["n_iterations"]
    np.testing.assert_array_equal(x0, [-1.2, 1.0, -0.5, 0.8])        # x0 untouched


def test_lbfgs_solves_least_squares():
    rng = np.random.default_rng(4)
    A, b = rng.normal(size=(30, 6)), rng.normal(size=30)
    x_star = np.linalg.lstsq(A, b, rcond=None)[0]

    def fun(x):
        r = A @ x - b                                   # E = 1/2 |A x - b|^2,  dE/dx = A^T r
        return 0.5 * r @ r, A.T @ r

    opt = LBFGS(tolerance=1e-10, ftol=1e-15)
    x, info = opt.minimize(fun, np.zeros(6))
    np.testing.assert_allclose(x, x_star, rtol=0, atol=1e-9)
    assert info["success"] and "CONVERGENCE" in info["stop_reason"]
    assert info["grad_norm"] == pytest.approx(np.linalg.norm(fun(x)[1]), abs=1e-15)
    assert info["grad_max"] < 1e-9
    assert info["loss"] == pytest.approx(fun(x_star)[0], rel=1e-12)
    x2, info2 = opt.minimize(fun, x)                     # iterations add up over calls
    assert opt.iterations == info["n_iterations"] + info2["n_iterations"]


def test_lbfgs_stops_at_max_iterations_and_says_so():
    x, info = LBFGS(max_iterations=3).minimize(rosenbrock, np.array([-1.2, 1.0]))
    assert not info["success"]
    assert "ITERATIONS REACHED LIMIT" in info["stop_reason"]
    assert info["n_iterations"] == 3
    assert rosenbrock(x)[0] < rosenbrock(np.array([-1.2, 1.0]))[0]


def test_lbfgs_passes_its_options_to_scipy_under_scipys_names(monkeypatch):
    import scipy.optimize
    seen = {}
    real = scipy.optimize.minimize

    def spy(fun, x0, **kwargs):
        seen.update(kwargs)
        return real(fun, x0, **kwargs)

    monkeypatch.setattr(scipy.optimize, "minimize", spy)
    LBFGS(max_iterations=7, tolerance=1e-3, history_size=4, ftol=1e-6,
          max_function_evals=30).minimize(rosenbrock, np.array([0.5, 0.5]))
    assert seen["method"] == "L-BFGS-B" and seen["jac"] is True
    assert seen["options"] == {"maxiter": 7, "gtol": 1e-3, "maxcor": 4, "ftol": 1e-6,
                               "maxfun": 30}


@pytest.mark.parametrize("fun, x0, error, match", [
    (lambda x: (0.0, np.zeros(3)), np.zeros(2), ValueError, "gradient of shape \\(2,\\)"),
    (lambda x: 0.0, np.zeros(2), TypeError, "pair \\(loss, grad\\)"),
    (lambda x: ("a", x), np.zeros(2), TypeError, "a number as the loss"),
    (lambda x: (np.nan, x), np.zeros(2), ValueError, "fun\\(x0\\) must be finite"),
    (rosenbrock, np.array([np.nan, 1.0]), ValueError, "x0 must be finite"),
    (rosenbrock, np.zeros((2, 2)), ValueError, "x0 must be a 1-D array"),
    ("rosen", np.zeros(2), TypeError, "fun must be callable"),
])
def test_lbfgs_refuses_bad_problems(fun, x0, error, match):
    with pytest.raises(error, match=match):
        LBFGS().minimize(fun, x0)


def test_lbfgs_has_no_apply_and_keeps_only_iterations_as_state():
    """L-BFGS is a full-batch optimizer: its own base, without the stochastic apply()."""
    opt = LBFGS()
    assert not opt.stochastic and not hasattr(opt, "apply")
    assert isinstance(opt, optimizers.FullBatchOptimizer)
    assert not isinstance(opt, optimizers.Optimizer)
    opt.minimize(rosenbrock, np.array([0.0, 0.0]))
    state = opt.get_state()
    assert len(state) == 1 and int(state[0]) == opt.iterations > 0
    again = LBFGS()
    again.set_state(state)
    assert again.iterations == opt.iterations


# ---------------------------------------------------------------- Nadam and Adamax
@pytest.mark.parametrize("cls, kwargs, error, match", [
    (Nadam, {"beta_1": 1.0}, ValueError, r"beta_1 must be in \[0, 1\)"),
    (Nadam, {"beta_2": -0.1}, ValueError, "beta_2"),
    (Nadam, {"epsilon": 0.0}, ValueError, "epsilon must be a finite number > 0"),
    (Nadam, {"learning_rate": float("inf")}, ValueError, "learning_rate"),
    (Adamax, {"beta_1": 1.5}, ValueError, "beta_1"),
    (Adamax, {"beta_2": 1.0}, ValueError, "beta_2"),
    (Adamax, {"epsilon": "small"}, TypeError, "epsilon must be a number"),
])
def test_nadam_and_adamax_refuse_bad_hyper_parameters(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("name, slots", [("nadam", ["momentum", "velocity"]),
                                         ("adamax", ["momentum", "norm"])])
def test_nadam_and_adamax_slots_are_kerass(name, slots):
    opt = optimizers.get(name)
    opt.build([np.ones((2, 3)), np.ones(3)])
    assert list(opt.slots) == slots
    assert all(not a.any() for arrays in opt.slots.values() for a in arrays)


def test_nadam_first_step_by_hand():
    """One Nadam step on w = 1, g = 0.5 (defaults), the arithmetic written out:
    u_1 = 0.9 (1 - 0.5 * 0.96) = 0.468,  u_2 = 0.9 (1 - 0.5 * 0.9216) = 0.48528
    m = 0.1 * 0.5 = 0.05,  v = 0.001 * 0.25 = 0.00025
    m_hat = u_2 m / (1 - u_1 u_2) + (1 - u_1) g / (1 - u_1)
          = 0.48528 * 0.05 / (1 - 0.22711104) + 0.5 = 0.031394... + 0.5
    v_hat = 0.00025 / 0.001 = 0.25,  w' = 1 - 0.001 m_hat / (0.5 + 1e-7)"""
    w = np.array([1.0])
    Nadam().apply([w], [np.array([0.5])])
    m_hat = 0.48528 * 0.05 / (1 - 0.468 * 0.48528) + 0.5
    assert w[0] == pytest.approx(1 - 0.001 * m_hat / (0.5 + 1e-7), rel=1e-14)


def test_nadam_schedule_product_is_recomputed_after_a_restored_state():
    """The running product of u_t follows iterations: a state restored (or rewound) gives the
    scalars of a fresh optimizer at that step."""
    w = [np.ones(3)]
    a = Nadam()
    for _ in range(5):
        a.apply(w, [np.full(3, 0.1)])
    scalars_at_6 = a.fused_scalars()
    b = Nadam()
    b.set_state(a.get_state())
    assert b.fused_scalars() == scalars_at_6
    a.set_state([np.array(2)] + a.get_state()[1:])           # rewind: t = 3 again
    c = Nadam()
    c.iterations = 2
    assert a.fused_scalars() == c.fused_scalars()
