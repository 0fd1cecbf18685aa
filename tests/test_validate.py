"""The shared argument checks (refnn._validate): each refuses what it must, naming the
argument, what was expected and what was received, and returns the value it accepts."""
import fractions

import numpy as np
import pytest

from refnn._validate import finite_number, flag, positive_int, positive_number


@pytest.mark.parametrize("value,expected", [(2, 2.0), (0.5, 0.5), (np.float32(0.25), 0.25),
                                            (np.int64(3), 3.0), (fractions.Fraction(1, 4), 0.25),
                                            (10**30, 1e30)])
def test_positive_number_accepts_real_numbers_as_floats(value, expected):
    result = positive_number("eta", value)
    assert type(result) is float and result == expected


@pytest.mark.parametrize("value,error,message", [
    (0, ValueError, r"^eta must be a finite number > 0, got 0\.0$"),
    (-1.5, ValueError, r"^eta must be a finite number > 0, got -1\.5$"),
    (float("nan"), ValueError, r"^eta must be a finite number > 0, got nan$"),
    (float("inf"), ValueError, r"^eta must be a finite number > 0, got inf$"),
    (10**400, ValueError, r"^eta must be a finite number > 0, got an integer of 1329 bits, "
                          r"too large for a float$"),
    (True, TypeError, r"^eta must be a number, got bool True$"),
    ("0.1", TypeError, r"^eta must be a number, got str '0\.1'$"),
    (None, TypeError, r"^eta must be a number, got NoneType None$"),
])
def test_positive_number_refuses_with_the_argument_named(value, error, message):
    with pytest.raises(error, match=message):
        positive_number("eta", value)


def test_positive_number_may_allow_zero():
    assert positive_number("rate", 0, allow_zero=True) == 0.0
    with pytest.raises(ValueError, match=r"^rate must be a finite number >= 0, got -1\.0$"):
        positive_number("rate", -1, allow_zero=True)


def test_finite_number_takes_either_sign_and_refuses_the_rest():
    assert finite_number("threshold", -3) == -3.0
    for value, message in ((float("-inf"), "got -inf"), (-10**400, "got an integer of 1329 bits")):
        with pytest.raises(ValueError, match=f"^threshold must be a finite number, {message}"):
            finite_number("threshold", value)
    with pytest.raises(TypeError, match="^threshold must be a number, got bool False$"):
        finite_number("threshold", False)


def test_positive_int_and_flag():
    assert positive_int("epochs", np.int32(3)) == 3
    assert positive_int("seed", 0, allow_zero=True) == 0
    with pytest.raises(TypeError, match=r"^epochs must be an integer, got float 3\.0$"):
        positive_int("epochs", 3.0)
    with pytest.raises(ValueError, match=r"^epochs must be > 0, got 0$"):
        positive_int("epochs", 0)
    assert flag("shuffle", np.bool_(False)) is False
    with pytest.raises(TypeError, match=r"^shuffle must be True or False, got int 1$"):
        flag("shuffle", 1)


def test_to_ndarray_names_what_it_expected():
    from refnn._validate import to_ndarray
    a = np.arange(3)
    assert to_ndarray("x", a) is a
    np.testing.assert_array_equal(to_ndarray("x", [[1, 2], [3, 4]]), [[1, 2], [3, 4]])
    with pytest.raises(TypeError, match=r"^y must be an array of class indices, got a str$"):
        to_ndarray("y", "012", "class indices")
    with pytest.raises(ValueError, match=r"^x must be a rectangular array of numbers; "
                                         r"could not convert it: "):
        to_ndarray("x", [[1, 2], [3]])


def test_rate_and_fraction_bound_a_part_of_one():
    from refnn._validate import fraction, rate
    assert rate("dropout", 0) == 0.0 and rate("dropout", 0.5) == 0.5
    with pytest.raises(ValueError, match=r"^dropout must be in \[0, 1\), got 1\.0$"):
        rate("dropout", 1)
    with pytest.raises(ValueError, match=r"^dropout must be a finite number >= 0, got -0\.1$"):
        rate("dropout", -0.1)
    assert fraction("test_fraction", 0.25) == 0.25
    for value in (0, 1, 1.5):
        with pytest.raises(ValueError, match=r"^test_fraction must "):
            fraction("test_fraction", value)
    with pytest.raises(TypeError, match=r"^test_fraction must be a number, got str '0\.2'$"):
        fraction("test_fraction", "0.2")


def test_sizes_and_finite_numbers_name_the_entry():
    from refnn._validate import finite_numbers, sizes
    assert sizes("layers", [128, np.int64(64)]) == (128, 64) and sizes("layers", ()) == ()
    with pytest.raises(ValueError, match=r"^layers\[1\] must be > 0, got 0$"):
        sizes("layers", [3, 0])
    with pytest.raises(TypeError, match=r"^layers\[0\] must be an integer, got float 2\.5$"):
        sizes("layers", [2.5])
    with pytest.raises(TypeError, match=r"^layers must be a sequence of integers > 0"):
        sizes("layers", "128,64")
    assert finite_numbers("x", [1, -0.5]) == (1.0, -0.5)
    with pytest.raises(ValueError, match=r"^x\[1\] must be a finite number, got nan$"):
        finite_numbers("x", [0, float("nan")])
    with pytest.raises(ValueError, match=r"^x must hold at least one number, got none$"):
        finite_numbers("x", [])
