"""Loss functions on softmax probabilities and their gradients with respect to logits.

Both losses take probabilities ``p`` of shape ``(B, K)`` from the softmax output and
targets ``y`` of the same shape (one-hot rows for classification).
"""

import abc
from typing import ClassVar

import numpy as np

from mnist_fnn.fnn._names import resolve_name


class Loss(abc.ABC):
    """A per-sample loss, averaged over the samples of a mini-batch."""

    name: ClassVar[str]

    @abc.abstractmethod
    def total(
        self, probabilities: np.ndarray, targets: np.ndarray, scratch: np.ndarray
    ) -> float:
        """Sum the per-sample losses over the rows.

        Args:
            probabilities: Softmax outputs, shape ``(B, K)``.
            targets: Targets of the same shape and dtype.
            scratch: Work array of the same shape and dtype, overwritten.

        Returns:
            The sum over the ``B`` samples, as a Python float.
        """

    @abc.abstractmethod
    def logits_gradient(
        self,
        probabilities: np.ndarray,
        targets: np.ndarray,
        out: np.ndarray,
        scratch: np.ndarray,
        row_buffer: np.ndarray,
    ) -> None:
        """Write the gradient of the batch-mean loss with respect to the logits.

        Args:
            probabilities: Softmax outputs, shape ``(B, K)``.
            targets: Targets of the same shape and dtype.
            out: Array of the same shape that receives ``dL/dz``.
            scratch: Work array of the same shape and dtype, overwritten.
            row_buffer: Work array of shape ``(B, 1)``, overwritten.
        """

    def mean(self, probabilities: np.ndarray, targets: np.ndarray) -> float:
        """Return the loss averaged over the rows, allocating its own work array."""
        probabilities = np.asarray(probabilities)
        targets = np.asarray(targets, dtype=probabilities.dtype)
        scratch = np.empty_like(probabilities)
        return self.total(probabilities, targets, scratch) / probabilities.shape[0]


class CrossEntropy(Loss):
    """Cross-entropy ``L = -sum_i y_i log p_i`` per sample.

    Probabilities are clipped below at the smallest normal number of their dtype
    before the logarithm, so a zero probability for the true class gives a large
    finite loss (about 87.3 in float32 and 708.4 in float64) instead of infinity.
    With softmax outputs the gradient with respect to the logits is ``(p - y) / B``.
    """

    name = "cross_entropy"

    def total(
        self, probabilities: np.ndarray, targets: np.ndarray, scratch: np.ndarray
    ) -> float:
        np.maximum(probabilities, np.finfo(probabilities.dtype).tiny, out=scratch)
        np.log(scratch, out=scratch)
        return -float(np.vdot(targets, scratch))

    def logits_gradient(
        self,
        probabilities: np.ndarray,
        targets: np.ndarray,
        out: np.ndarray,
        scratch: np.ndarray,
        row_buffer: np.ndarray,
    ) -> None:
        np.subtract(probabilities, targets, out=out)
        np.multiply(out, out.dtype.type(1 / probabilities.shape[0]), out=out)


class SquaredError(Loss):
    """Squared error ``L = sum_i (p_i - y_i)^2`` per sample.

    The gradient goes through the full softmax Jacobian
    ``dp_k/dz_i = p_k (delta_ki - p_i)``, which gives, for a batch of ``B`` samples,
    ``dL/dz_i = (2 / B) p_i ((p_i - y_i) - sum_j p_j (p_j - y_j))``.
    """

    name = "squared_error"

    def total(
        self, probabilities: np.ndarray, targets: np.ndarray, scratch: np.ndarray
    ) -> float:
        np.subtract(probabilities, targets, out=scratch)
        return float(np.vdot(scratch, scratch))

    def logits_gradient(
        self,
        probabilities: np.ndarray,
        targets: np.ndarray,
        out: np.ndarray,
        scratch: np.ndarray,
        row_buffer: np.ndarray,
    ) -> None:
        # out = d = p - y, and row_buffer = sum_j p_j d_j for each sample.
        np.subtract(probabilities, targets, out=out)
        np.multiply(probabilities, out, out=scratch)
        np.add.reduce(scratch, axis=1, keepdims=True, out=row_buffer)

        np.subtract(out, row_buffer, out=out)
        np.multiply(out, probabilities, out=out)
        np.multiply(out, out.dtype.type(2 / probabilities.shape[0]), out=out)


LOSSES: dict[str, Loss] = {loss.name: loss for loss in (CrossEntropy(), SquaredError())}
"""Loss objects by canonical name."""

LOSS_ALIASES: dict[str, str] = {
    "crossentropy": "cross_entropy",
    "ce": "cross_entropy",
    "log_loss": "cross_entropy",
    "squarederror": "squared_error",
    "sse": "squared_error",
}
"""Map from normalised alias to canonical loss name."""


def resolve_loss(name: object) -> str:
    """Return the canonical loss name for a case-insensitive name or alias.

    Raises:
        ValueError: If the name is unknown. The message lists the valid names.
    """
    return resolve_name("loss", "losses", name, LOSSES, LOSS_ALIASES)
