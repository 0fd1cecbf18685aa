"""The optimizer kernel: one entry point that applies any of Keras 3's update rules
(src_c/_updates.pxd) to one parameter array, as one fused loop: for every element it reads w,
g and the slots, updates the slots and w, and writes them back. No temporaries, no GIL.

Boundary: refnn/kernels.py has checked every array (one dtype, the shape of w, C-contiguous,
writable where written, w and g finite), the rule's code, and every scalar (finite, in range,
as many as the rule takes), and flattened the arrays. An optional slot is None when its
option is off; a required one never is.

Notation: w a parameter, g = dE/dw its gradient. Slots keep Keras's names.
"""
from cython cimport floating
from _updates cimport update, rule_signature as c_rule_signature, MAX_SLOTS, MAX_SCALARS

SLOTS_MAX = MAX_SLOTS
SCALARS_MAX = MAX_SCALARS


def rule_signature(int rule):
    """(scalars, required slots, optional slots) of the compiled rule `rule`; None if there is
    no such rule. The Python declaration of a rule is checked against this."""
    cdef int n_scalars, n_required, n_optional
    if c_rule_signature(rule, &n_scalars, &n_required, &n_optional) < 0:
        return None
    return n_scalars, n_required, n_optional


cdef inline floating* optional(floating[::1] slot) noexcept nogil:
    """the slot's data, or NULL for None (an option that is off)"""
    return NULL if slot is None else &slot[0]


def apply_rule(int rule,                         # IN     RULE_* (src_c/_updates.pxd)
               floating[::1] w,                  # IN/OUT parameters, flattened
               const floating[::1] grad,         # IN     g = dE/dw
               floating[::1] slot0,              # IN/OUT the rule's slots, in its order,
               floating[::1] slot1,              #        or None (an unused slot)
               floating[::1] slot2,
               const double[::1] scalars):       # IN     the rule's scalars, in its order
    """w and its slots updated in place by the rule (the loop the training step runs too).
    Returns whether every new value is finite."""
    cdef floating* slots[MAX_SLOTS]
    cdef bint finite
    if w.shape[0] == 0:
        return True
    slots[0] = optional(slot0)
    slots[1] = optional(slot1)
    slots[2] = optional(slot2)
    with nogil:
        finite = update(rule, &scalars[0], &w[0], &grad[0], slots, w.shape[0])
    return finite
