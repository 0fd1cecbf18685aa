"""What keeps fit's state whole when training diverges or is interrupted.

Divergence: a step that finds the loss, a value inside the network or the update not finite
raises Diverged. If it changed nothing, the state is already that after the batch before; if
it did (the compiled step updates in place, layer after layer, before the last layer's update
is known to be finite), the state copied at the epoch's start is put back and the epoch's
earlier batches are stepped through again: the steps are deterministic, so the result is
exactly the state after the batch before, at the cost of one copy per epoch instead of one per
batch.

Interruption: the first Ctrl-C asks fit to stop after the current batch; a second one raises
KeyboardInterrupt once the step under way has finished, never in the middle of it.

Threads: while fit trains a model in one thread, other threads' calls on that model are
refused (fitting, refuse_during_fit).
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

from numpy.typing import NDArray

from ._validate import TrainingDivergedError

if TYPE_CHECKING:
    from .model import Sequential

# what a step changes: (the weights, the optimizer's state, the dropout generator's state)
EpochState = tuple[list[NDArray[Any]], list[NDArray[Any]], Mapping[str, Any]]


# why a step diverged when its update, not its loss, left a value that is not finite
OVERFLOWED = "the update overflowed (a weight or a slot of the optimizer became NaN or infinite)"


class Diverged(Exception):
    """A step found that training diverged: `why`, and whether it changed the weights, the
    optimizer's state or the model's generators before finding it (`changed`)."""

    def __init__(self, why: str, changed: bool) -> None:
        super().__init__(why)
        self.why, self.changed = why, changed


def epoch_state(model: Sequential) -> EpochState:
    """The state a step changes, copied: the weights, the optimizer's state (iterations and
    slots), the dropout generator's state."""
    return (model.get_weights(), model.optimizer.get_state(),
            model._dropout_rng.bit_generator.state)


def put_back(model: Sequential, state: EpochState) -> None:
    """The state epoch_state(model) copied, put back in place (the compiled step holds the
    arrays)."""
    weights, optimizer_state, dropout = state
    for live, saved in zip(model._weights, weights):
        live[...] = saved
    model.optimizer.set_state(optimizer_state)
    model._dropout_rng.bit_generator.state = dropout


def diverged_error(model: Sequential, strategy: Any, d: Diverged, start_state: EpochState,
                   done: NDArray[Any], batch_size: int, epoch: int, batch: int, steps: int,
                   first: bool = False) -> TrainingDivergedError:
    """Training diverged in this batch (Diverged d): leave the state after the batch before,
    and return the TrainingDivergedError to raise. A step that changed something is undone by
    putting back the epoch's start and stepping through the batches before once more (`done`:
    their samples, in order); the steps are deterministic, so the state is exactly as it was."""
    if d.changed:
        put_back(model, start_state)
        for begin in range(0, done.shape[0], batch_size):
            strategy.step(done[begin:begin + batch_size])
    where = f"epoch {epoch + 1}, batch {batch + 1} of {steps}"
    if first:                                # fit's first batch: nothing was trained yet
        before = ("before any update: the values of x may be too large for the network; the "
                  "weights and the optimizer's state are as fit found them")
    elif batch:
        before = f"the weights and the optimizer's state are those after batch {batch}"
    else:
        before = "the weights and the optimizer's state are those the epoch began with"
    return TrainingDivergedError(f"training diverged in {where}: {d.why}; {before} (try a "
                                 f"smaller learning rate)")


class StopOnInterrupt:
    """During fit, Ctrl-C sets model.stop_training: the current batch finishes, training stops,
    and the model is left consistent. A second Ctrl-C interrupts (KeyboardInterrupt) as soon as
    the step under way has finished (see holding())."""

    def __init__(self, model: Sequential) -> None:
        self.model = model
        self.installed = False
        self.held = False            # inside a step whose interruption waits for its end
        self.pending = False         # a second Ctrl-C came during that step

    def __enter__(self) -> StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.getsignal(signal.SIGINT)

            def handler(signum: int, frame: FrameType | None) -> None:
                if not self.model.stop_training:
                    self.model.stop_training = True
                    print("\nrefnn: interrupted; stopping after this batch "
                          "(Ctrl-C again to abort)", file=sys.stderr)
                elif self.held:
                    self.pending = True
                else:
                    raise KeyboardInterrupt

            signal.signal(signal.SIGINT, handler)
            self.installed = True
        return self

    @contextlib.contextmanager
    def holding(self, hold: bool) -> Iterator[None]:
        """The step run in this block is not cut in half by a second Ctrl-C (hold): that
        raises KeyboardInterrupt when the step has finished."""
        self.held = hold
        try:
            yield
        finally:
            self.held = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> Literal[False]:
        if self.installed:
            signal.signal(signal.SIGINT, self.previous)
        return False


# guards each model's _fit_thread: (the thread inside its fit(), depth), which alone may use it
_FIT_LOCK = threading.Lock()


@contextlib.contextmanager
def fitting(model: Sequential) -> Iterator[None]:
    """fit() holds the model for its thread: the weights, the optimizer's state and the
    layers' training state change batch by batch, so another thread's fit, predict,
    evaluate, set_weights, compile, add or save is refused until fit returns (its own
    thread, e.g. a callback, may use the model)."""
    me = threading.get_ident()
    with _FIT_LOCK:
        owner, depth = getattr(model, "_fit_thread", None) or (None, 0)
        if owner is not None and owner != me:
            raise RuntimeError("fit refused: this model is being trained by fit() in "
                               "another thread; one model trains in one thread at a time")
        model._fit_thread = (me, depth + 1)
    try:
        yield
    finally:
        with _FIT_LOCK:
            model._fit_thread = (me, depth) if depth else None


def refuse_during_fit(model: Sequential, what: str) -> None:
    """RuntimeError when another thread's fit() is training the model."""
    owner = getattr(model, "_fit_thread", None)
    if owner is not None and owner[0] != threading.get_ident():
        raise RuntimeError(f"{what} refused: fit() is training this model in another "
                           f"thread; call it after fit returns")
