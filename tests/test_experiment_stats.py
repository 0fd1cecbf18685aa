"""The theory lab's mean and 95 % interval over seeds, against hand-worked numbers."""
import math

import pytest

from refnn.experiments import stats


def test_mean_interval_of_one_two_three():
    # mean 2, s = 1, t_{0.975, 2} = 4.302653 (Student's t table, 2 degrees of freedom):
    # half-width 4.302653 / sqrt(3) = 2.484138
    mean, half = stats.mean_interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert half == pytest.approx(2.484138, abs=1e-6)


def test_five_seeds_use_four_degrees_of_freedom():
    # 0.80, 0.82, 0.84, 0.86, 0.88: mean 0.84, s = 0.031623, t_{0.975, 4} = 2.776445
    mean, half = stats.mean_interval([0.80, 0.82, 0.84, 0.86, 0.88])
    assert mean == pytest.approx(0.84)
    assert half == pytest.approx(2.776445 * 0.0316228 / math.sqrt(5), rel=1e-5)


def test_one_seed_has_no_interval_and_says_so():
    mean, half = stats.mean_interval([0.5])
    assert mean == 0.5 and math.isnan(half)
    assert stats.interval_text([0.5]) == "0.5 (1 seed)"
    assert not stats.separated([0.5], [0.9])


def test_separated_only_when_the_intervals_do_not_overlap():
    assert stats.separated([1.0, 1.1, 0.9], [2.0, 2.1, 1.9])
    assert not stats.separated([1.0, 1.5, 0.5], [1.6, 2.1, 1.1])


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [float("inf")]])
def test_bad_values_are_refused(bad):
    with pytest.raises(ValueError, match="values"):
        stats.mean_interval(bad)


def test_a_single_seeds_table_leaves_out_the_empty_intervals():
    from refnn.experiments import ExperimentResult
    one = ExperimentResult(name="x", claim="c", columns=["depth", "acc", "acc ±"],
                           rows=[[4, 0.9, math.nan], [8, 0.5, math.nan]],
                           findings={"acc": 0.9, "acc_ci": math.nan})
    assert "±" not in one.table() and "nan" not in str(one)
    assert "one seed: no intervals" in str(one)
    three = ExperimentResult(name="x", claim="c", columns=["depth", "acc", "acc ±"],
                             rows=[[4, 0.9, 0.01], [8, 0.5, 0.02]], findings={"acc_ci": 0.01})
    assert "acc ±" in three.table() and "0.02" in three.table()
    assert "one seed" not in str(three) and "acc_ci: 0.01" in str(three)
