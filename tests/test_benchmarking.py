"""refnn.benchmarking: where an epoch goes (epoch_phases, format_phases) and the shape of a
workload's result. No speed is asserted here: speeds are compared in benchmarks/ and by
`python -m refnn bench`, as ratios measured in one run."""
import io

import numpy as np
import pytest

from refnn import benchmarking, kernels


def test_format_phases_joins_the_matrix_products_and_sorts_the_rest():
    phases = {"gather": 0.030, "forward matrix products": 0.150, "activations": 0.010,
              "output error": 0.005, "backward matrix products": 0.170,
              "backward elementwise": 0.005, "optimizer update": 0.020, "rest": 0.010}
    # total 0.400 s: products 0.320 (80%), gather 0.030 (8%, 7.5 rounded to even), ...
    assert benchmarking.format_phases(phases) == (
        "refnn's epoch, by phase: matrix products 320 ms (80%), gather 30 ms (8%), "
        "optimizer update 20 ms (5%), activations 10 ms (2%), rest 10 ms (2%), "
        "output error 5 ms (1%), backward elementwise 5 ms (1%)")
    assert benchmarking.format_phases(phases, threads=2).startswith(
        "refnn's epoch on 2 threads, by phase (summed over the threads): matrix products 320 ms "
        "(80%), gather 30 ms (8%)")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", ["W1", "W3"])
def test_epoch_phases_account_for_the_whole_epoch(name, threads):
    """The phases and the rest tile the threads' time: the epoch's wall-clock time times the
    threads, each phase summed over the threads."""
    w, X, Y = benchmarking.workload(name, quick=True)
    phases, total = benchmarking.epoch_phases(w, X, Y, threads=threads)
    assert list(phases) == list(kernels.DenseTrainer.PHASES) + ["rest"]
    assert all(v > 0 for k, v in phases.items() if k != "rest"), phases
    assert phases["rest"] >= 0
    assert sum(phases.values()) == pytest.approx(threads * total, rel=1e-9)


def test_epoch_phases_train_as_fit_does():
    """epoch_phases runs fit's step with its fused update: from the same weights and in the
    same sample order, one step gives the weights fit's first batch gives."""
    w, X, Y = benchmarking.workload("W1", quick=True)
    w = dict(w, n=w["batch_size"])
    X, Y = X[:w["n"]], Y[:w["n"]]
    fit, setup = benchmarking.refnn_run(w, X, Y, seed=0)
    model = setup()
    model.fit(X, Y, batch_size=w["batch_size"], epochs=1, verbose=0, shuffle=False)
    weights = benchmarking.glorot_weights(benchmarking.layer_sizes(w), w["dtype"], 0)
    trainer = kernels.DenseTrainer(weights, X, Y, ["sigmoid", "softmax"],
                                   "softmax_crossentropy", w["batch_size"])
    optimizer = benchmarking.workload_optimizer(w)
    optimizer.build(weights)
    trainer.set_update(*optimizer.fused_rule())
    trainer.step(np.arange(w["n"], dtype=np.intp), scalars=optimizer.fused_scalars())
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_quick_workload_reports_every_figure():
    r = benchmarking.run_workload("W1", quick=True)
    assert set(r["rates"]) >= {"refnn", "numpy"} and "cap" not in r["rates"]
    assert r["cap"] > 0 and all(rate > 0 for rate in r["rates"].values())
    assert set(r["phases"]) == set(kernels.DenseTrainer.PHASES) | {"rest"}
    text = benchmarking.format_result(r)
    assert "GEMM-only cap" in text and "refnn's epoch, by phase: matrix products" in text
    assert 0 < r["fit_peak_mib"] < 64
    assert len(r["round_trip_ns"]) <= 1 and all(t > 0 for t in r["round_trip_ns"])


@pytest.mark.parametrize("name,epochs,n_0", [("W5", 1, 784), ("W6", 2, 64)])
def test_the_estimator_workloads_run_both_estimators_on_the_same_data(name, epochs, n_0):
    pytest.importorskip("sklearn", reason="scikit-learn is not installed")
    w, X, Y = benchmarking.workload(name, quick=True)
    runs, missing = benchmarking.workload_runs(name, w, X, Y)
    assert set(runs) == {"refnn", "scikit-learn"} and not missing
    fitted = {}
    for impl, (epoch, setup, count) in runs.items():
        clf = setup()
        epoch(clf)
        assert count == X.shape[0] * epochs == w["n"] * epochs
        fitted[impl] = clf
    # the same parameters: scikit-learn's defaults but the epochs (all run: no early stop),
    # both fitted to every class
    ours, theirs = fitted["refnn"], fitted["scikit-learn"]
    assert ours.get_params()["hidden_layer_sizes"] == theirs.get_params()["hidden_layer_sizes"]
    assert ours.n_iter_ == theirs.n_iter_ == epochs
    assert [c.shape for c in ours.coefs_] == [c.shape for c in theirs.coefs_] == [(n_0, 100),
                                                                                  (100, 10)]


def test_w6_is_scikit_learns_digits():
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn is not installed")
    _, X, Y = benchmarking.workload("W6")
    pixels, labels = datasets.load_digits(return_X_y=True)
    assert X.shape == (1797, 64) and X.max() == 1.0           # 16 / 16
    np.testing.assert_array_equal(X * 16, pixels)
    np.testing.assert_array_equal(Y.argmax(axis=1), labels)


def test_w5_reports_scikit_learns_epoch_against_its_matrix_products_alone():
    # a hand-made result: scikit-learn at 80,000 samples/s against a cap of 120,000 takes
    # 1.5 times the time of the products alone; refnn at 100,000 reaches 0.83 of the cap
    r = {"name": "W5", "title": "t", "threads": 1, "n": 20000, "missing": {},
         "rates": {"refnn": 100000.0, "scikit-learn": 80000.0}, "cap": 120000.0}
    text = benchmarking.format_result(r)
    assert "refnn reaches 0.83 of it" in text
    assert "scikit-learn's epoch takes 1.50x the time of its matrix products alone" in text


@pytest.mark.parametrize("trips, said", [([60.0, 199.0], None), ([60.0, 201.0], "1 of 2, 1 of 2")])
def test_the_scaling_says_when_the_cores_were_apart(trips, said):
    """A round trip over kernels.threads.APART_NS (200 ns) counts as the cores apart; the line
    appears only when some probe found them so."""
    from refnn import scaling
    measured = {s: [{"name": "W3", "rates": {"refnn": 100.0 * s}, "others": None,
                     "round_trip_ns": trips}] for s in (1, 2)}
    text = scaling.format_scaling(measured)
    assert "W3: threads=1 100 (1.00x), threads=2 200 (2.00x)" in text
    if said is None:
        assert "apart" not in text
    else:
        assert f"the cores were apart (over 200 ns) in {said} of those probes" in text


def test_thread_settings_alternate_and_each_keeps_its_best_over_the_passes(monkeypatch):
    """bench --threads 1,2 measures 1, 2, 1, 2 (each interpreter REPEAT rounds); every rate is
    the best of its setting's passes, the phases come from the pass where refnn was fastest,
    and the scaling is the ratio of the bests."""
    from refnn import scaling
    calls = []
    rates = {(1, 0): 100.0, (2, 0): 150.0, (1, 1): 120.0, (2, 1): 140.0}

    def fake(workloads, setting, out, quick, seed, pids, repeat=None):
        pass_ = sum(1 for c in calls if c[0] == setting)
        calls.append((setting, repeat, out))
        r = rates[(setting, pass_)]
        return [{"name": "W1", "title": "t", "threads": setting, "n": 10, "missing": {},
                 "rates": {"refnn": r, "numpy": 1000.0 - r}, "cap": 2 * r,
                 "phases": {"gather": 0.1 + pass_}, "fit_peak_mib": 1.0 + pass_,
                 "others": 0.1 * pass_, "refnn_threads": setting,
                 "round_trip_ns": [60.0 + 300 * pass_ * (setting - 1), 70.0]}]
    monkeypatch.setattr(scaling, "measure_setting", fake)
    out = io.StringIO()
    measured = scaling.run_workloads(["W1"], [1, 2], out)
    assert [(s, r, o) for s, r, o in calls] == [(1, 3, None), (2, 3, None)] * 2
    one, two = measured[1][0], measured[2][0]
    assert one["rates"] == {"refnn": 120.0, "numpy": 900.0} and one["cap"] == 240.0
    assert two["rates"] == {"refnn": 150.0, "numpy": 860.0} and two["cap"] == 300.0
    assert one["phases"] == {"gather": 1.1} and two["phases"] == {"gather": 0.1}
    assert one["fit_peak_mib"] == 2.0 and one["others"] == pytest.approx(0.05)
    assert "threads=1 120 (1.00x), threads=2 150 (1.25x)" in out.getvalue()
    assert one["round_trip_ns"] == [60.0, 70.0, 60.0, 70.0]          # every pass's probes
    assert ("a cache line from one core to another and back took 60-70 ns, 60-360 ns "
            "between the runs (threads=1, threads=2" in out.getvalue())
    assert ("the cores were apart (over 200 ns) in 0 of 4, 1 of 4 of those probes"
            in out.getvalue())                                    # 360 ns: the second pass
    assert out.getvalue().count("W1: t  (10 samples") == 2          # one table per setting
    calls.clear()
    scaling.run_workloads(["W1"], [2], io.StringIO())                # one setting: one pass
    assert [(s, r) for s, r, _ in calls] == [(2, None)]
