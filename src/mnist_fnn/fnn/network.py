"""A fully connected feed-forward network with a softmax output layer."""

from collections.abc import Sequence
from typing import Any

import numpy as np

from mnist_fnn.fnn.activations import (
    Activation,
    check_leaky_relu_slope,
    make_activation,
    softmax,
)
from mnist_fnn.fnn.initializers import INITIALIZERS, resolve_initializer
from mnist_fnn.fnn.losses import LOSSES, resolve_loss

DTYPES = ("float32", "float64")
"""Supported floating-point dtypes, by name."""


def resolve_dtype(dtype: object) -> np.dtype:
    """Return ``float32`` or ``float64`` as a NumPy dtype.

    Args:
        dtype: A dtype name, NumPy type or dtype object.

    Raises:
        ValueError: If ``dtype`` is neither float32 nor float64.
    """
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in DTYPES:
        raise ValueError(
            f"Unsupported dtype {dtype!r}. Valid dtypes: {', '.join(DTYPES)}."
        )
    return resolved


def _check_size(label: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"Invalid {label}: {value!r}. It must be a positive integer.")
    return int(value)


def _check_hidden_sizes(hidden_sizes: object) -> tuple[int, ...]:
    if isinstance(hidden_sizes, str | bytes) or not isinstance(hidden_sizes, Sequence):
        raise ValueError(
            f"Invalid hidden_sizes: {hidden_sizes!r}. It must be a sequence of "
            "positive integers, for example [128, 128, 128], or [] for no hidden layer."
        )
    return tuple(
        _check_size(f"hidden_sizes[{index}]", size)
        for index, size in enumerate(hidden_sizes)
    )


def as_targets(y: object, rows: int, classes: int, dtype: np.dtype) -> np.ndarray:
    """Return targets as a C-contiguous ``(rows, classes)`` array of ``dtype``.

    Args:
        y: One-hot (or probability) rows of shape ``(rows, classes)``, or integer class
            indices of shape ``(rows,)``.
        rows: Expected number of samples.
        classes: Number of output classes.
        dtype: Dtype of the result.

    Returns:
        ``y`` itself when it already has the right dtype and layout, else a copy.

    Raises:
        ValueError: If the shape does not match or a class index is out of range.
    """
    y = np.asarray(y)
    if y.ndim == 1 and np.issubdtype(y.dtype, np.integer):
        if y.shape[0] != rows:
            raise ValueError(
                f"Expected {rows} labels, one per sample, got {y.shape[0]}."
            )
        if rows and (y.min() < 0 or y.max() >= classes):
            raise ValueError(
                f"Class indices must be in [0, {classes - 1}], got values from "
                f"{y.min()} to {y.max()}."
            )
        targets = np.zeros((rows, classes), dtype=dtype)
        targets[np.arange(rows), y] = 1
        return targets
    if y.shape != (rows, classes):
        raise ValueError(
            f"Targets must have shape ({rows}, {classes}) (one-hot) or ({rows},) "
            f"(integer class indices), got {y.shape}."
        )
    return np.ascontiguousarray(y, dtype=dtype)


class FeedForwardNetwork:
    """A multilayer perceptron: dense layers, one hidden activation, softmax output.

    Layer ``l`` computes ``a_l = f(a_{l-1} @ W_l + b_l)`` with ``W_l`` of shape
    ``(fan_in, fan_out)``, and the last layer applies softmax instead of ``f``. All
    weights and biases live in one flat buffer, ``parameters``: first every weight
    matrix in layer order, then every bias vector. ``weights`` and ``biases`` are
    views into it, so an optimizer can update all of them in a few passes over one
    array and apply weight decay to the leading ``weight_count`` entries only.

    Args:
        input_size: Number of input features.
        hidden_sizes: Width of each hidden layer, empty for a softmax regression.
        output_size: Number of classes.
        activation: Hidden activation name: identity, sigmoid, tanh, relu or
            leaky_relu. Names are case-insensitive and aliases are accepted.
        leaky_relu_slope: Slope of ``leaky_relu`` for negative inputs, in ``[0, 1)``.
        initialization: ``xavier`` (Glorot uniform) or ``random`` (normal, std 0.01)
            for the weights. Biases start at zero.
        dtype: ``float32`` or ``float64`` for parameters and computations.
        rng: Generator or integer seed for the initial weights. ``train`` keeps
            drawing from the same generator when it gets no ``rng`` of its own.
            ``None`` seeds from the operating system.

    Attributes:
        input_size: Number of input features.
        hidden_sizes: Hidden layer widths, a tuple.
        output_size: Number of classes.
        activation: Canonical name of the hidden activation.
        leaky_relu_slope: Slope of ``leaky_relu`` for negative inputs.
        initialization: Canonical name of the weight initialisation.
        dtype: NumPy dtype of the parameters.
        rng: The generator that initialised the weights.
        training_config: Settings of the last ``train`` call, empty until then.
        weight_count: Number of weight entries at the start of ``parameters``.

    Raises:
        ValueError: If a size, name, slope or dtype is invalid.
    """

    def __init__(
        self,
        input_size: int = 784,
        hidden_sizes: Sequence[int] = (128, 128, 128),
        output_size: int = 10,
        *,
        activation: str = "relu",
        leaky_relu_slope: float = 0.01,
        initialization: str = "xavier",
        dtype: str | np.dtype | type = "float32",
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.input_size = _check_size("input_size", input_size)
        self.hidden_sizes = _check_hidden_sizes(hidden_sizes)
        self.output_size = _check_size("output_size", output_size)
        # The slope is validated for every activation because architecture() stores it.
        self.leaky_relu_slope = check_leaky_relu_slope(leaky_relu_slope)
        self._activation_function = make_activation(
            activation, leaky_relu_slope=self.leaky_relu_slope
        )
        self.activation = self._activation_function.name
        self.initialization = resolve_initializer(initialization)
        self.dtype = resolve_dtype(dtype)
        self.rng = np.random.default_rng(rng)
        self.training_config: dict[str, Any] = {}

        self._allocate_parameters()
        initialize = INITIALIZERS[self.initialization]
        for weights in self._weights:
            initialize(weights, self.rng)

    def _allocate_parameters(self) -> None:
        sizes = self.layer_sizes
        shapes = list(zip(sizes[:-1], sizes[1:], strict=True))
        self.weight_count = sum(fan_in * fan_out for fan_in, fan_out in shapes)
        self._parameters = np.zeros(self.weight_count + sum(sizes[1:]), self.dtype)
        self._weights, self._biases = split_parameters(self._parameters, sizes)

    @property
    def activation_function(self) -> Activation:
        """The hidden activation object named by ``activation``."""
        return self._activation_function

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Widths of all layers: input, hidden layers, output."""
        return (self.input_size, *self.hidden_sizes, self.output_size)

    @property
    def parameters(self) -> np.ndarray:
        """Flat 1-D buffer of all weights (first) and biases, shared by their views."""
        return self._parameters

    @property
    def parameter_count(self) -> int:
        """Total number of weights and biases."""
        return self._parameters.shape[0]

    @property
    def weights(self) -> list[np.ndarray]:
        """Per-layer weight views of shape ``(fan_in, fan_out)`` into ``parameters``."""
        return list(self._weights)

    @property
    def biases(self) -> list[np.ndarray]:
        """Per-layer bias views of shape ``(fan_out,)`` into ``parameters``."""
        return list(self._biases)

    def architecture(self) -> dict[str, Any]:
        """Return the constructor arguments that rebuild this network's shape.

        Returns:
            A JSON-serialisable dict with ``input_size``, ``hidden_sizes`` (list),
            ``output_size``, ``activation``, ``leaky_relu_slope``,
            ``initialization`` and ``dtype`` (name).
        """
        return {
            "input_size": self.input_size,
            "hidden_sizes": list(self.hidden_sizes),
            "output_size": self.output_size,
            "activation": self.activation,
            "leaky_relu_slope": self.leaky_relu_slope,
            "initialization": self.initialization,
            "dtype": self.dtype.name,
        }

    def __repr__(self) -> str:
        arguments = ", ".join(
            f"{key}={value!r}" for key, value in self.architecture().items()
        )
        return f"{type(self).__name__}({arguments})"

    def forward(
        self,
        inputs: np.ndarray,
        layer_outputs: Sequence[np.ndarray],
        scratch: Sequence[np.ndarray],
        row_buffer: np.ndarray,
    ) -> np.ndarray:
        """Run the forward pass into pre-allocated arrays.

        Args:
            inputs: Array of shape ``(n, input_size)`` and the network's dtype.
            layer_outputs: One array of shape ``(n, width)`` per layer after the input;
                receives the activations, and the last receives the probabilities.
            scratch: Work arrays shaped like ``layer_outputs``, overwritten.
            row_buffer: Work array of shape ``(n, 1)``, overwritten.

        Returns:
            The probabilities, ``layer_outputs[-1]``.
        """
        layer_inputs = inputs
        last = len(self._weights) - 1
        for layer, outputs in enumerate(layer_outputs):
            np.matmul(layer_inputs, self._weights[layer], out=outputs)
            np.add(outputs, self._biases[layer], out=outputs)
            if layer < last:
                self._activation_function.forward(outputs, scratch[layer])
            layer_inputs = outputs

        return softmax(outputs, out=outputs, row_buffer=row_buffer)

    def _check_inputs(self, x: object) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(
                f"Inputs must have shape (n, {self.input_size}), got {x.shape}."
            )
        return x

    def _iterate_chunks(
        self, x: np.ndarray, chunk_size: int, probabilities: np.ndarray | None
    ):
        """Yield ``(start, stop, probabilities)`` for each chunk of rows of ``x``.

        Buffers are sized for one chunk, so memory does not grow with ``len(x)``
        beyond ``probabilities`` itself. When ``probabilities`` is given, each chunk's
        output is written into its rows.
        """
        chunk_size = _check_size("chunk_size", chunk_size)
        rows = min(chunk_size, x.shape[0])
        widths = self.layer_sizes[1:]
        layer_outputs = [np.empty((rows, width), self.dtype) for width in widths]
        scratch = [np.empty((rows, width), self.dtype) for width in widths]
        row_buffer = np.empty((rows, 1), self.dtype)
        cast_buffer = (
            None
            if x.dtype == self.dtype
            else np.empty((rows, self.input_size), self.dtype)
        )

        for start in range(0, x.shape[0], chunk_size):
            stop = min(start + chunk_size, x.shape[0])
            count = stop - start
            chunk = x[start:stop]
            if cast_buffer is not None:
                chunk = cast_buffer[:count]
                np.copyto(chunk, x[start:stop], casting="unsafe")

            outputs = [buffer[:count] for buffer in layer_outputs]
            if probabilities is not None:
                outputs[-1] = probabilities[start:stop]
            chunk_scratch = [buffer[:count] for buffer in scratch]
            chunk_probabilities = self.forward(
                chunk, outputs, chunk_scratch, row_buffer[:count]
            )
            yield start, stop, chunk_probabilities

    def predict_proba(self, x: np.ndarray, chunk_size: int = 4096) -> np.ndarray:
        """Return the softmax class probabilities.

        Args:
            x: Inputs of shape ``(n, input_size)``. Other dtypes are cast chunk by chunk.
            chunk_size: Maximum rows per forward pass.

        Returns:
            Array of shape ``(n, output_size)`` in the network's dtype.

        Raises:
            ValueError: If ``x`` has the wrong shape or ``chunk_size`` is not positive.
        """
        x = self._check_inputs(x)
        probabilities = np.empty((x.shape[0], self.output_size), self.dtype)
        for _ in self._iterate_chunks(x, chunk_size, probabilities):
            pass
        return probabilities

    def predict(self, x: np.ndarray, chunk_size: int = 4096) -> np.ndarray:
        """Return the most probable class of each row as an ``(n,)`` int64 array."""
        x = self._check_inputs(x)
        predictions = np.empty(x.shape[0], np.int64)
        for start, stop, probabilities in self._iterate_chunks(x, chunk_size, None):
            np.argmax(probabilities, axis=1, out=predictions[start:stop])
        return predictions

    def evaluate(
        self, x: np.ndarray, y_onehot: np.ndarray, chunk_size: int = 4096
    ) -> dict[str, float]:
        """Compute both losses and the accuracy in one chunked pass.

        Args:
            x: Inputs of shape ``(n, input_size)`` with ``n >= 1``.
            y_onehot: One-hot targets of shape ``(n, output_size)``, or integer class
                indices of shape ``(n,)``.
            chunk_size: Maximum rows per forward pass.

        Returns:
            ``cross_entropy_loss`` and ``squared_error_loss`` (means over the samples)
            and ``accuracy`` (fraction of rows whose most probable class is the
            target's largest entry), all Python floats.

        Raises:
            ValueError: If the shapes do not match or ``x`` is empty.
        """
        x = self._check_inputs(x)
        rows = x.shape[0]
        if rows == 0:
            raise ValueError("Cannot evaluate on an empty dataset.")
        targets = as_targets(y_onehot, rows, self.output_size, self.dtype)
        true_classes = np.argmax(targets, axis=1)

        cross_entropy, squared_error = LOSSES["cross_entropy"], LOSSES["squared_error"]
        loss_scratch = np.empty((min(chunk_size, rows), self.output_size), self.dtype)
        cross_entropy_total = squared_error_total = 0.0
        correct = 0
        for start, stop, probabilities in self._iterate_chunks(x, chunk_size, None):
            chunk_targets = targets[start:stop]
            scratch = loss_scratch[: stop - start]
            cross_entropy_total += cross_entropy.total(
                probabilities, chunk_targets, scratch
            )
            squared_error_total += squared_error.total(
                probabilities, chunk_targets, scratch
            )
            correct += int(
                np.count_nonzero(
                    np.argmax(probabilities, axis=1) == true_classes[start:stop]
                )
            )

        return {
            "cross_entropy_loss": cross_entropy_total / rows,
            "squared_error_loss": squared_error_total / rows,
            "accuracy": correct / rows,
        }

    def loss_and_gradient(
        self, x: np.ndarray, y: np.ndarray, loss: str = "cross_entropy"
    ) -> tuple[float, np.ndarray]:
        """Return the batch-mean loss and its gradient for one batch.

        This allocates new buffers on every call, so the training loop uses a
        ``GradientWorkspace`` instead.

        Args:
            x: Inputs of shape ``(n, input_size)``.
            y: One-hot targets of shape ``(n, output_size)`` or class indices.
            loss: Loss name, ``cross_entropy`` or ``squared_error``.

        Returns:
            The loss and a new flat gradient array laid out like ``parameters``.
        """
        from mnist_fnn.fnn.backpropagation import GradientWorkspace  # noqa: PLC0415

        x = self._check_inputs(x)
        workspace = GradientWorkspace(self, x.shape[0], loss)
        rows = x.shape[0]
        np.copyto(workspace.inputs, x, casting="unsafe")
        np.copyto(workspace.targets, as_targets(y, rows, self.output_size, self.dtype))
        losses = workspace.compute(rows)
        return losses[resolve_loss(loss)], workspace.gradients.copy()


def split_parameters(
    flat: np.ndarray, layer_sizes: Sequence[int]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Return per-layer weight and bias views into a flat buffer.

    The buffer contains every weight matrix in layer order, row-major, followed by
    every bias vector. ``FeedForwardNetwork.parameters`` and gradient buffers share
    this layout.

    Args:
        flat: 1-D array of length ``sum(fan_in * fan_out) + sum(fan_out)``.
        layer_sizes: Widths of all layers, input first.

    Returns:
        The weight views of shape ``(fan_in, fan_out)`` and the bias views.
    """
    weights, biases = [], []
    offset = 0
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:], strict=True):
        weights.append(
            flat[offset : offset + fan_in * fan_out].reshape(fan_in, fan_out)
        )
        offset += fan_in * fan_out
    for fan_out in layer_sizes[1:]:
        biases.append(flat[offset : offset + fan_out])
        offset += fan_out
    assert offset == flat.shape[0], "flat buffer size does not match layer sizes"
    return weights, biases
