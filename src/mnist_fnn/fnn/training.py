"""Mini-batch gradient descent for ``FeedForwardNetwork``."""

import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from mnist_fnn.fnn.backpropagation import GradientWorkspace
from mnist_fnn.fnn.losses import resolve_loss
from mnist_fnn.fnn.network import FeedForwardNetwork, as_targets
from mnist_fnn.fnn.optimizers import Optimizer, make_optimizer

logger = logging.getLogger(__name__)

EpochCallback = Callable[[dict[str, Any]], object]
BatchCallback = Callable[[int, int, int], object]


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or infinite during training.

    Attributes:
        epoch: Epoch of the failure, counted from 1.
        step: Step within the epoch, counted from 1.
        loss_value: The non-finite loss.
    """

    def __init__(
        self, message: str, *, epoch: int, step: int, loss_value: float
    ) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.step = step
        self.loss_value = loss_value


def _check_count(label: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"Invalid {label}: {value!r}. It must be an integer >= 1.")
    return int(value)


def _prepare_data(
    network: FeedForwardNetwork, data: tuple[np.ndarray, np.ndarray], label: str
) -> tuple[np.ndarray, np.ndarray]:
    try:
        x, y = data
    except (TypeError, ValueError):
        raise ValueError(f"{label} must be a pair (x, y_onehot).") from None
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != network.input_size:
        raise ValueError(
            f"{label} inputs must have shape (n, {network.input_size}), got {x.shape}."
        )
    if x.shape[0] == 0:
        raise ValueError(f"{label} is empty.")
    x = np.ascontiguousarray(x, dtype=network.dtype)
    return x, as_targets(y, x.shape[0], network.output_size, network.dtype)


def _divergence_error(
    problem: str,
    value: float,
    *,
    epoch: int,
    step: int,
    steps: int,
    learning_rate: float,
) -> TrainingDivergedError:
    return TrainingDivergedError(
        f"Training diverged at epoch {epoch}, step {step} of {steps}, because "
        f"{problem}. Lower the learning rate (currently {learning_rate:g}) and "
        "train again.",
        epoch=epoch,
        step=step,
        loss_value=value,
    )


def _train_epoch(
    network: FeedForwardNetwork,
    optimizer: Optimizer,
    workspace: GradientWorkspace,
    data: tuple[np.ndarray, np.ndarray],
    *,
    order: np.ndarray,
    epoch: int,
    batch_callbacks: tuple[BatchCallback, ...],
) -> tuple[dict[str, float], float]:
    """Take one optimizer step per mini-batch of ``data`` in the given row order.

    Returns:
        The sums over the epoch's samples of each loss, keyed by loss name, and the
        wall time of the steps in seconds.

    Raises:
        TrainingDivergedError: If the trained loss of a mini-batch is not finite.
    """
    x, y = data
    rows = x.shape[0]
    batch_size = workspace.inputs.shape[0]
    steps = math.ceil(rows / batch_size)
    loss_sums = {"cross_entropy": 0.0, "squared_error": 0.0}
    epoch_seconds = 0.0

    for step in range(1, steps + 1):
        started = time.perf_counter()
        indices = order[(step - 1) * batch_size : step * batch_size]
        count = indices.shape[0]
        # mode="clip" skips the bounds check and the buffered copy that comes with
        # it. The indices are a permutation of range(rows), so none is out of range.
        np.take(x, indices, axis=0, out=workspace.inputs[:count], mode="clip")
        np.take(y, indices, axis=0, out=workspace.targets[:count], mode="clip")

        # A diverging run overflows and produces NaN. The finiteness check reports
        # that with the epoch and step, so NumPy's warnings are silenced here.
        with np.errstate(all="ignore"):
            batch_losses = workspace.compute(count)
            if not math.isfinite(batch_losses[workspace.loss]):
                raise _divergence_error(
                    f"the {workspace.loss} loss is {batch_losses[workspace.loss]}",
                    batch_losses[workspace.loss],
                    epoch=epoch,
                    step=step,
                    steps=steps,
                    learning_rate=optimizer.learning_rate,
                )
            optimizer.step(
                network.parameters, workspace.gradients, network.weight_count
            )

        for name, value in batch_losses.items():
            loss_sums[name] += value * count
        epoch_seconds += time.perf_counter() - started

        for callback in batch_callbacks:
            callback(epoch, step, steps)

    return loss_sums, epoch_seconds


def train(
    network: FeedForwardNetwork,
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    optimizer: str | Optimizer = "adam",
    learning_rate: float = 0.001,
    beta1: float = 0.9,
    beta2: float = 0.999,
    epsilon: float = 1e-8,
    weight_decay: float = 0.0,
    loss: str = "cross_entropy",
    rng: np.random.Generator | int | None = None,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    test_data: tuple[np.ndarray, np.ndarray] | None = None,
    epoch_callbacks: Iterable[EpochCallback] = (),
    batch_callbacks: Iterable[BatchCallback] = (),
    momentum: float | None = None,
) -> list[dict[str, Any]]:
    """Train the network in place with mini-batch gradient descent.

    Each epoch draws a fresh permutation of the training rows from ``rng`` and takes
    one optimizer step per mini-batch, the last partial batch included. Inputs are
    cast to the network's dtype once, before the first epoch.

    Args:
        network: The network to train. Its parameters are updated in place and its
            ``training_config`` is replaced by the settings of this run.
        x_train: Inputs of shape ``(n, input_size)``, already scaled (for example to
            ``[0, 1]``).
        y_train: One-hot targets of shape ``(n, output_size)`` or class indices.
        epochs: Number of passes over the training data, ``>= 1``.
        batch_size: Rows per mini-batch, ``>= 1``. Values above ``n`` mean full batch.
        optimizer: Optimizer name (see ``OPTIMIZERS``) or an ``Optimizer``. An
            instance keeps its state across calls, and then the hyperparameter
            arguments below are ignored.
        learning_rate: Step size of a named optimizer.
        beta1: First-moment or momentum decay of a named optimizer.
        beta2: Squared-gradient decay of a named optimizer.
        epsilon: Denominator constant of a named optimizer.
        weight_decay: L2 coefficient on the weights (never the biases).
        loss: Loss to minimise, ``cross_entropy`` or ``squared_error``.
        rng: Generator or seed for the shuffling. ``None`` continues the network's
            own generator, so a network built with a seed trains reproducibly.
        validation_data: Optional ``(x, y_onehot)`` evaluated after every epoch.
        test_data: Optional ``(x, y_onehot)`` evaluated after every epoch.
        epoch_callbacks: Each is called as ``callback(record)`` after every epoch.
        batch_callbacks: Each is called as ``callback(epoch, step, steps_per_epoch)``
            after every step. ``epoch`` and ``step`` count from 1.
        momentum: Another name for ``beta1``. When given, it replaces ``beta1``.

    Returns:
        One record per epoch, a dict with these keys:

        - ``epoch``: the epoch number, from 1.
        - ``cross_entropy_loss``, ``squared_error_loss``: training losses from the
          forward passes of the epoch's steps, averaged over its samples.
        - ``validation_loss``: the trained loss on the validation data.
        - ``validation_accuracy``: accuracy on the validation data.
        - ``test_accuracy``: accuracy on the test data.
        - ``epoch_seconds``: wall time of the training steps, callbacks excluded.
        - ``evaluation_seconds``: wall time of the validation and test evaluation.

        The validation and test entries are ``None`` when that data is not given.

    Raises:
        ValueError: If an argument is invalid. The message names it.
        TrainingDivergedError: If a training or validation loss, or a parameter after
            an epoch, is NaN or infinite.
    """
    epochs = _check_count("epochs", epochs)
    batch_size = _check_count("batch_size", batch_size)
    loss = resolve_loss(loss)
    if isinstance(optimizer, Optimizer):
        optimizer_instance = optimizer
    else:
        optimizer_instance = make_optimizer(
            optimizer,
            learning_rate=learning_rate,
            beta1=beta1,
            beta2=beta2,
            epsilon=epsilon,
            weight_decay=weight_decay,
            momentum=momentum,
        )
    generator = network.rng if rng is None else np.random.default_rng(rng)

    x, y = _prepare_data(network, (x_train, y_train), "Training data")
    validation = (
        None
        if validation_data is None
        else _prepare_data(network, validation_data, "validation_data")
    )
    test = None if test_data is None else _prepare_data(network, test_data, "test_data")
    epoch_callbacks = tuple(epoch_callbacks)
    batch_callbacks = tuple(batch_callbacks)

    network.training_config = {
        **optimizer_instance.config(),
        "loss": loss,
        "epochs": epochs,
        "batch_size": batch_size,
    }

    rows = x.shape[0]
    batch_size = min(batch_size, rows)
    steps = math.ceil(rows / batch_size)
    workspace = GradientWorkspace(network, batch_size, loss)
    history = []

    for epoch in range(1, epochs + 1):
        loss_sums, epoch_seconds = _train_epoch(
            network,
            optimizer_instance,
            workspace,
            (x, y),
            order=generator.permutation(rows),
            epoch=epoch,
            batch_callbacks=batch_callbacks,
        )

        started = time.perf_counter()
        # NaN parameters after a diverging last step give NaN metrics, which the
        # check below reports, so NumPy's warnings about them are not needed.
        with np.errstate(all="ignore"):
            validation_metrics = (
                None if validation is None else network.evaluate(*validation)
            )
            test_metrics = None if test is None else network.evaluate(*test)
        evaluation_seconds = time.perf_counter() - started

        validation_loss = None
        if validation_metrics is not None:
            validation_loss = validation_metrics[f"{loss}_loss"]
        if validation_loss is not None and not math.isfinite(validation_loss):
            problem = f"the validation {loss} loss is {validation_loss}"
        elif not np.isfinite(network.parameters).all():
            problem = "the parameters contain NaN or infinite values"
        else:
            problem = None
        if problem is not None:
            raise _divergence_error(
                problem,
                math.nan if validation_loss is None else validation_loss,
                epoch=epoch,
                step=steps,
                steps=steps,
                learning_rate=optimizer_instance.learning_rate,
            )

        record = {
            "epoch": epoch,
            "cross_entropy_loss": loss_sums["cross_entropy"] / rows,
            "squared_error_loss": loss_sums["squared_error"] / rows,
            "validation_loss": validation_loss,
            "validation_accuracy": None
            if validation_metrics is None
            else validation_metrics["accuracy"],
            "test_accuracy": None if test_metrics is None else test_metrics["accuracy"],
            "epoch_seconds": epoch_seconds,
            "evaluation_seconds": evaluation_seconds,
        }
        history.append(record)
        logger.debug("Epoch %d/%d: %s", epoch, epochs, record)
        for callback in epoch_callbacks:
            callback(record)

    return history
