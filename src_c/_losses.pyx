"""Output-layer kernels: the loss of each sample and the output error term epsilon = dE/dh.

The loops are src_c/_loss_cores.pxd, shared with the training step (src_c/_train.pyx); here
each sample's loss is summed over the outputs and epsilon is that of one sample's loss.

Inputs were validated in Python (refnn/kernels.py): C-contiguous, finite, one dtype, same shapes.
"""
from cython cimport floating
from _loss_cores cimport (softmax_crossentropy_core, sigmoid_binary_crossentropy_core,
                          squared_error_core)


def softmax_crossentropy(const floating[:, ::1] h,      # IN  (n, k) logits
                         const floating[:, ::1] y,      # IN  (n, k) targets
                         floating[::1] loss_out,        # OUT (n,)
                         floating[:, ::1] epsilon_out): # OUT (n, k)
    """loss = -sum_k y_k log softmax(h)_k;  epsilon = softmax(h) sum_k y_k - y  (= yhat - y)"""
    with nogil:
        softmax_crossentropy_core(h.shape[0], h.shape[1], &h[0, 0], &y[0, 0], 1.0,
                                  &loss_out[0], &epsilon_out[0, 0], NULL)


def sigmoid_binary_crossentropy(const floating[:, ::1] h,      # IN  (n, k) logits
                                const floating[:, ::1] y,      # IN  (n, k) targets in [0, 1]
                                floating[::1] loss_out,        # OUT (n,) summed over outputs
                                floating[:, ::1] epsilon_out): # OUT (n, k)
    """loss = sum_k -y log yhat - (1-y) log(1-yhat), from h;  epsilon = sigmoid(h) - y"""
    with nogil:
        sigmoid_binary_crossentropy_core(h.shape[0], h.shape[1], &h[0, 0], &y[0, 0], 1, 1.0,
                                         &loss_out[0], &epsilon_out[0, 0], NULL)


def squared_error_output(const floating[:, ::1] g,       # IN  (n, k) network outputs yhat
                         const floating[:, ::1] y,       # IN  (n, k) targets
                         int activation,                 # IN  output activation code
                         floating[::1] E_out,            # OUT (n,)
                         floating[:, ::1] epsilon_out):  # OUT (n, k)
    """E = 1/2 sum_k (yhat_k - y_k)^2;   epsilon_k = (yhat_k - y_k) f'(h_k)"""
    with nogil:
        squared_error_core(g.shape[0], g.shape[1], activation, &g[0, 0], &y[0, 0], 2.0, 1.0,
                           1.0, &E_out[0], &epsilon_out[0, 0])
