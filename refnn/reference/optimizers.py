"""NumPy twins of the optimizers' update rules: the oracles refnn.optimizers is tested against.

Each twin is written from the published rule (Keras 3's conventions, the papers' notation),
independently of the compiled loops: SGD in the lecture's v = gamma v + eta g, Adam in the
paper's bias-corrected m_hat / v_hat form, Nadam with its momentum schedule written out.
Each is a generator: given the start weights w and the gradients of successive steps, it yields
after each step (w, {slot name: array}) with Keras's slot names. float64 NumPy; nothing compiled.

Keyword names and defaults are Keras's (learning_rate, epsilon, ...); inside, the lecture's
symbols (eta; the stability constant spelled out as adam_epsilon and the like).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

Vector = NDArray[np.float64]           # a layer's weights or their gradient, flattened

# each generator yields, per gradient, the new w and its slots by Keras's names
Steps = Iterator[tuple[NDArray[Any], dict[str, NDArray[Any]]]]

def sgd_reference(w: Vector, grads: Iterable[Vector], learning_rate: float = 0.01,
                  momentum: float = 0.0,
                  nesterov: bool = False) -> Steps:
    """Lecture form: v = gamma v + eta g, w' = w - v   (Nesterov: w' = w - (gamma v + eta g)).
    Keras stores m = -v."""
    eta, gamma = learning_rate, momentum
    v = np.zeros_like(w)
    for g in grads:
        if gamma == 0:
            w = w - eta * g
        else:
            v = gamma * v + eta * g
            w = w - (gamma * v + eta * g) if nesterov else w - v
        yield w, ({"momentum": -v} if gamma else {})


def adagrad_reference(w: Vector, grads: Iterable[Vector], learning_rate: float = 0.001,
                      initial_accumulator_value: float = 0.1,
                      epsilon: float = 1e-7) -> Steps:
    """a = a0 + sum of g^2;  w' = w - eta g / sqrt(a + adagrad_epsilon)"""
    eta, adagrad_epsilon = learning_rate, epsilon
    a = np.full_like(w, initial_accumulator_value)
    for g in grads:
        a = a + g ** 2
        w = w - eta * g / np.sqrt(a + adagrad_epsilon)
        yield w, {"accumulator": a}


def rmsprop_reference(w: Vector, grads: Iterable[Vector], learning_rate: float = 0.001,
                      rho: float = 0.9, momentum: float = 0.0, epsilon: float = 1e-7,
                      centered: bool = False) -> Steps:
    """ms = rho ms + (1-rho) g^2;  step = eta g / sqrt(ms + rmsprop_epsilon);
    centered: mg = rho mg + (1-rho) g, step = eta g / sqrt(ms - mg^2 + rmsprop_epsilon);
    momentum: mom = momentum mom + step, w' = w - mom."""
    eta, rmsprop_epsilon = learning_rate, epsilon
    ms, mg, mom = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        ms = rho * ms + (1 - rho) * g ** 2
        if centered:
            mg = rho * mg + (1 - rho) * g
            step = eta * g / np.sqrt(ms - mg ** 2 + rmsprop_epsilon)
        else:
            step = eta * g / np.sqrt(ms + rmsprop_epsilon)
        if momentum:
            mom = momentum * mom + step
            w = w - mom
        else:
            w = w - step
        slots = {"velocity": ms}
        if momentum:
            slots["momentum"] = mom
        if centered:
            slots["average_gradient"] = mg
        yield w, slots


def adam_reference(w: Vector, grads: Iterable[Vector], learning_rate: float = 0.001,
                   beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                   amsgrad: bool = False) -> Steps:
    """Kingma & Ba, Algorithm 1 with bias-corrected moments; Keras's keyword epsilon is the
    paper's epsilon hat, i.e. adam_epsilon / sqrt(1 - beta_2^t) next to sqrt(v_hat)."""
    eta, adam_epsilon = learning_rate, epsilon
    m, v, v_max = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g ** 2
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - beta_1 ** t)
        v_hat = (v_max if amsgrad else v) / (1 - beta_2 ** t)
        w = w - eta * m_hat / (np.sqrt(v_hat) + adam_epsilon / np.sqrt(1 - beta_2 ** t))
        slots = {"momentum": m, "velocity": v}
        if amsgrad:
            slots["velocity_hat"] = v_max
        yield w, slots


def nadam_reference(w: Vector, grads: Iterable[Vector], learning_rate: float = 0.001,
                    beta_1: float = 0.9, beta_2: float = 0.999,
                    epsilon: float = 1e-7) -> Steps:
    """Dozat (2016) as Keras 3 writes it: the momentum schedule u_t = beta_1 (1 - 0.5 0.96^t)
    and its running product P_t = u_1 ... u_t;
    m = beta_1 m + (1-beta_1) g,  v = beta_2 v + (1-beta_2) g^2,
    m_hat = u_{t+1} m / (1 - P_{t+1}) + (1 - u_t) g / (1 - P_t),  v_hat = v / (1 - beta_2^t),
    w' = w - eta m_hat / (sqrt(v_hat) + nadam_epsilon)."""
    eta, nadam_epsilon = learning_rate, epsilon
    m, v = np.zeros_like(w), np.zeros_like(w)
    u_product = 1.0
    for t, g in enumerate(grads, start=1):
        u_t = beta_1 * (1 - 0.5 * 0.96 ** t)
        u_next = beta_1 * (1 - 0.5 * 0.96 ** (t + 1))
        u_product = u_product * u_t                       # P_t
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g ** 2
        m_hat = u_next * m / (1 - u_product * u_next) + (1 - u_t) * g / (1 - u_product)
        v_hat = v / (1 - beta_2 ** t)
        w = w - eta * m_hat / (np.sqrt(v_hat) + nadam_epsilon)
        yield w, {"momentum": m, "velocity": v}


def adamax_reference(w: Vector, grads: Iterable[Vector], learning_rate: float = 0.001,
                     beta_1: float = 0.9, beta_2: float = 0.999,
                     epsilon: float = 1e-7) -> Steps:
    """Kingma & Ba, Algorithm 2 (Keras 3's form, epsilon added to u):
    m = beta_1 m + (1-beta_1) g,  u = max(beta_2 u, |g|),
    w' = w - eta / (1 - beta_1^t) * m / (u + adamax_epsilon)."""
    eta, adamax_epsilon = learning_rate, epsilon
    m, u = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        u = np.maximum(beta_2 * u, np.abs(g))
        w = w - eta / (1 - beta_1 ** t) * m / (u + adamax_epsilon)
        yield w, {"momentum": m, "norm": u}


REFERENCES = {"sgd": sgd_reference, "adagrad": adagrad_reference,
              "rmsprop": rmsprop_reference, "adam": adam_reference,
              "nadam": nadam_reference, "adamax": adamax_reference}
