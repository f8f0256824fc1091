"""Hidden-layer activation functions and the softmax output.

Every activation works in place on a pre-allocated array, and every derivative is
computed from the activation's output rather than its input. This lets the forward
pass overwrite the pre-activations, so training keeps one array per layer.
"""

import abc
import math
from typing import ClassVar

import numpy as np

from mnist_fnn.fnn._names import resolve_name


def check_leaky_relu_slope(slope: object) -> float:
    """Return the leaky ReLU slope as a float.

    Raises:
        ValueError: If ``slope`` is not a finite number in ``[0, 1)``.
    """
    if (
        isinstance(slope, bool)
        or not isinstance(slope, int | float | np.floating | np.integer)
        or not math.isfinite(slope)
        or not 0 <= slope < 1
    ):
        raise ValueError(
            f"Invalid leaky_relu_slope: {slope!r}. The slope must be a number in [0, 1)."
        )
    return float(slope)


class Activation(abc.ABC):
    """An elementwise activation function applied to hidden layers."""

    name: ClassVar[str]

    @abc.abstractmethod
    def forward(self, values: np.ndarray, scratch: np.ndarray | None = None) -> None:
        """Replace pre-activations with activations, in place.

        Args:
            values: Pre-activations of any shape, overwritten with the activations.
            scratch: Work array of the same shape and dtype, used by activations that
                need one. Allocated when omitted.
        """

    @abc.abstractmethod
    def multiply_derivative(
        self, activations: np.ndarray, gradients: np.ndarray, scratch: np.ndarray
    ) -> None:
        """Multiply gradients in place by the derivative at the given activations.

        Args:
            activations: Outputs of ``forward`` for the layer.
            gradients: Gradient of the loss with respect to the activations, of the same
                shape. It is overwritten with the gradient with respect to the
                pre-activations.
            scratch: Work array of the same shape and dtype, overwritten.
        """

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Return the activations of ``values`` in a new array."""
        result = np.array(values, copy=True)
        self.forward(result)
        return result


class Identity(Activation):
    """The identity ``f(z) = z`` with derivative 1."""

    name = "identity"

    def forward(self, values: np.ndarray, scratch: np.ndarray | None = None) -> None:
        pass

    def multiply_derivative(
        self, activations: np.ndarray, gradients: np.ndarray, scratch: np.ndarray
    ) -> None:
        pass


class Sigmoid(Activation):
    """The logistic function ``f(z) = 1 / (1 + exp(-z))`` with ``f' = f (1 - f)``.

    The forward pass evaluates the equal form ``(1 + tanh(z / 2)) / 2``, which never
    overflows for large negative ``z``.
    """

    name = "sigmoid"

    def forward(self, values: np.ndarray, scratch: np.ndarray | None = None) -> None:
        half = values.dtype.type(0.5)
        np.multiply(values, half, out=values)
        np.tanh(values, out=values)
        np.add(values, values.dtype.type(1), out=values)
        np.multiply(values, half, out=values)

    def multiply_derivative(
        self, activations: np.ndarray, gradients: np.ndarray, scratch: np.ndarray
    ) -> None:
        np.subtract(activations.dtype.type(1), activations, out=scratch)
        np.multiply(scratch, activations, out=scratch)
        np.multiply(gradients, scratch, out=gradients)


class Tanh(Activation):
    """The hyperbolic tangent ``f(z) = tanh(z)`` with ``f' = 1 - f^2``."""

    name = "tanh"

    def forward(self, values: np.ndarray, scratch: np.ndarray | None = None) -> None:
        np.tanh(values, out=values)

    def multiply_derivative(
        self, activations: np.ndarray, gradients: np.ndarray, scratch: np.ndarray
    ) -> None:
        np.square(activations, out=scratch)
        np.subtract(activations.dtype.type(1), scratch, out=scratch)
        np.multiply(gradients, scratch, out=gradients)


class ReLU(Activation):
    """The rectifier ``f(z) = max(z, 0)``, whose derivative is taken as 0 at ``z = 0``."""

    name = "relu"

    def forward(self, values: np.ndarray, scratch: np.ndarray | None = None) -> None:
        np.maximum(values, values.dtype.type(0), out=values)

    def multiply_derivative(
        self, activations: np.ndarray, gradients: np.ndarray, scratch: np.ndarray
    ) -> None:
        # The comparison writes 0.0 and 1.0 straight into the float scratch array,
        # which takes half the time of np.sign on a mini-batch.
        np.greater(activations, 0, out=scratch, casting="unsafe")
        np.multiply(gradients, scratch, out=gradients)


class LeakyReLU(Activation):
    """The leaky rectifier ``f(z) = z`` for ``z > 0`` and ``slope * z`` otherwise.

    Args:
        slope: Gradient for non-positive inputs, in ``[0, 1)``. A non-negative slope
            keeps the sign of ``f(z)`` equal to the sign of ``z``, which the derivative
            relies on.

    Raises:
        ValueError: If ``slope`` is not a finite number in ``[0, 1)``.
    """

    name = "leaky_relu"

    def __init__(self, slope: float = 0.01) -> None:
        self.slope = check_leaky_relu_slope(slope)

    def forward(self, values: np.ndarray, scratch: np.ndarray | None = None) -> None:
        if scratch is None:
            scratch = np.empty_like(values)

        # max(z, slope * z) equals the two-piece definition because 0 <= slope < 1.
        np.multiply(values, values.dtype.type(self.slope), out=scratch)
        np.maximum(values, scratch, out=values)

    def multiply_derivative(
        self, activations: np.ndarray, gradients: np.ndarray, scratch: np.ndarray
    ) -> None:
        dtype = activations.dtype.type
        # scratch = 1 where a > 0, else slope: max(sign(a), 0) * (1 - slope) + slope.
        np.sign(activations, out=scratch)
        np.maximum(scratch, dtype(0), out=scratch)
        np.multiply(scratch, dtype(1 - self.slope), out=scratch)
        np.add(scratch, dtype(self.slope), out=scratch)
        np.multiply(gradients, scratch, out=gradients)


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Identity, Sigmoid, Tanh, ReLU, LeakyReLU)
}
"""Activation classes by canonical name."""

ACTIVATION_ALIASES: dict[str, str] = {
    "linear": "identity",
    "logistic": "sigmoid",
    "leakyrelu": "leaky_relu",
    "lrelu": "leaky_relu",
}
"""Map from normalised alias to canonical activation name."""


def resolve_activation(name: object) -> str:
    """Return the canonical activation name for a case-insensitive name or alias.

    Raises:
        ValueError: If the name is unknown. The message lists the valid names.
    """
    return resolve_name(
        "activation", "activations", name, ACTIVATIONS, ACTIVATION_ALIASES
    )


def make_activation(name: object, *, leaky_relu_slope: float = 0.01) -> Activation:
    """Create an activation from its name.

    Args:
        name: Case-insensitive name or alias, for example ``"ReLU"``.
        leaky_relu_slope: Slope for ``leaky_relu``, ignored by the other activations.

    Returns:
        The activation object.

    Raises:
        ValueError: If the name is unknown or the slope is invalid.
    """
    canonical = resolve_activation(name)
    if canonical == LeakyReLU.name:
        return LeakyReLU(leaky_relu_slope)
    return ACTIVATIONS[canonical]()


def softmax(
    logits: np.ndarray,
    out: np.ndarray | None = None,
    *,
    row_buffer: np.ndarray | None = None,
) -> np.ndarray:
    """Compute row-wise softmax probabilities without overflow.

    Each row has its own maximum subtracted before ``exp``, so the largest shifted
    logit is 0 and a row's result does not depend on the other rows. Shifted logits
    far below 0 underflow to a probability of exactly 0, which is the correctly
    rounded result, so the underflow is not reported as a floating-point error.

    Args:
        logits: Array of shape ``(n, k)``.
        out: Output array of the same shape and dtype, possibly ``logits`` itself. A new
            array is allocated when omitted.
        row_buffer: Work array of shape ``(n, 1)`` and the same dtype, allocated when
            omitted.

    Returns:
        The probabilities, ``out`` when given.
    """
    if out is None:
        out = np.empty_like(logits)
    if row_buffer is None:
        row_buffer = np.empty((logits.shape[0], 1), dtype=out.dtype)

    # The ufunc reductions skip the Python wrappers of np.max and np.sum, which cost
    # more than the reduction itself on a mini-batch.
    np.maximum.reduce(logits, axis=1, keepdims=True, out=row_buffer)
    np.subtract(logits, row_buffer, out=out)

    with np.errstate(under="ignore"):
        np.exp(out, out=out)
        np.add.reduce(out, axis=1, keepdims=True, out=row_buffer)
        np.divide(out, row_buffer, out=out)
    return out
