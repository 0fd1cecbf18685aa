"""One textbook backprop step on a 3-2-1 sigmoid network, worked by hand.

The weights are chosen so that every weighted sum is 0 and every sigmoid is exactly 1/2:
all the numbers below are binary fractions, exact in float32 and float64, so the kernels
must reproduce them to the last bit.
"""
import numpy as np
import pytest

from refnn.textbook import BackpropNetwork

x = np.array([1.0, 0.0, 1.0])
y = np.array([1.0])
W1 = np.array([[0.5, -0.5],
               [0.7, 0.2],
               [-0.5, 0.5]])
b1 = np.array([0.0, 0.0])
W2 = np.array([[1.0],
               [-1.0]])
b2 = np.array([0.0])
eta = 0.5

# forward pass, h_j = sum_i w_ij g_i + b_j:
#   h1 = (1*0.5 + 0*0.7 + 1*(-0.5),  1*(-0.5) + 0*0.2 + 1*0.5) = (0, 0)
#   g1 = sigmoid(0) = (0.5, 0.5)
#   h2 = 0.5*1 + 0.5*(-1) = 0,   yhat = g2 = sigmoid(0) = 0.5
H1, G1, H2, G2 = [0.0, 0.0], [0.5, 0.5], [0.0], [0.5]
# E = 1/2 (yhat - y)^2 = 1/2 (0.5 - 1)^2 = 0.125
E = 0.125
# output error: eps2 = (yhat - y) yhat (1 - yhat) = (-0.5)(0.5)(0.5) = -0.125
EPS2 = [-0.125]
# hidden: eps1_j = (eps2 w_j) g_j (1 - g_j):  (-0.125 * 1 * 0.25, -0.125 * (-1) * 0.25)
EPS1 = [-0.03125, 0.03125]
# gradients dE/dw_ij = eps_j g_i:
#   dW2 = (0.5 * -0.125, 0.5 * -0.125) = (-0.0625, -0.0625),  db2 = -0.125
#   dW1 row i = x_i * eps1: rows 0 and 2 are (-0.03125, 0.03125), row 1 (x_1 = 0) is 0
DW1 = [[-0.03125, 0.03125], [0.0, 0.0], [-0.03125, 0.03125]]
DB1 = EPS1
DW2 = [[-0.0625], [-0.0625]]
DB2 = EPS2
# update w' = w - eta dE/dw with eta = 0.5:
#   W1' row 0 = (0.5 + 0.015625, -0.5 - 0.015625) = (0.515625, -0.515625), row 1 unchanged,
#   row 2 = (-0.5 + 0.015625, 0.5 - 0.015625) = (-0.484375, 0.484375); b1' = (0.015625, -0.015625)
#   W2' = (1 + 0.03125, -1 + 0.03125) = (1.03125, -0.96875);  b2' = 0.0625
W1_NEW = [[0.515625, -0.515625], [0.7, 0.2], [-0.484375, 0.484375]]
B1_NEW = [0.015625, -0.015625]
W2_NEW = [[1.03125], [-0.96875]]
B2_NEW = [0.0625]

CASES = [("c", "float64"), ("numpy", "float64"), ("python", "float64"),
         ("c", "float32"), ("numpy", "float32")]


@pytest.mark.parametrize("backend,dtype", CASES)
def test_one_step_by_hand(backend, dtype):
    net = BackpropNetwork([3, 2, 1], seed=0, backend=backend, dtype=dtype)
    net.set_weights([W1, b1, W2, b2])
    t = net.step(x, y, eta=eta)
    cast = np.dtype(dtype).type
    exact = lambda a: np.asarray(a, dtype=dtype)          # noqa: E731
    np.testing.assert_array_equal(t.h[0], exact(H1))
    np.testing.assert_array_equal(t.g[1], exact(G1))
    np.testing.assert_array_equal(t.h[1], exact(H2))
    np.testing.assert_array_equal(t.g[2], exact(G2))
    assert t.E == cast(E)
    np.testing.assert_array_equal(t.epsilon[1], exact(EPS2))
    np.testing.assert_array_equal(t.epsilon[0], exact(EPS1))
    for got, want in zip(t.grads, [DW1, DB1, DW2, DB2]):
        np.testing.assert_array_equal(got, exact(want))
    for got, want in zip(net.get_weights(), [W1_NEW, B1_NEW, W2_NEW, B2_NEW]):
        np.testing.assert_array_equal(got, exact(want))


@pytest.mark.parametrize("backend,dtype", CASES)
def test_per_sample_kernel_takes_the_same_step(backend, dtype):
    """fit on the one sample runs the compiled (or twin) per-sample loop: the same step."""
    net = BackpropNetwork([3, 2, 1], seed=0, backend=backend, dtype=dtype)
    net.set_weights([W1, b1, W2, b2])
    history = net.fit(x[None, :], y[None, :], eta=eta, epochs=1)
    assert history == [E]
    for got, want in zip(net.get_weights(), [W1_NEW, B1_NEW, W2_NEW, B2_NEW]):
        np.testing.assert_array_equal(got, np.asarray(want, dtype=dtype))


def test_the_step_lowers_the_error():
    net = BackpropNetwork([3, 2, 1], seed=0)
    net.set_weights([W1, b1, W2, b2])
    net.step(x, y, eta=eta)
    assert net.evaluate(x[None, :], y[None, :]) < E


def test_trace_prints_in_the_lectures_notation():
    net = BackpropNetwork([3, 2, 1], seed=0)
    net.set_weights([W1, b1, W2, b2])
    text = str(net.step(x, y, eta=eta))
    assert "E = 1/2 sum_k (yhat_k - y_k)^2 = 0.125" in text
    assert "epsilon2 = [-0.125000]" in text
    assert "epsilon1 = [-0.031250  0.031250]" in text
    assert "w' = w - eta dE/dw" in text
