"""Forward and backward passes on mini-batches into pre-allocated buffers."""

import numpy as np

from mnist_fnn.fnn.losses import LOSSES, resolve_loss
from mnist_fnn.fnn.network import FeedForwardNetwork, split_parameters


class GradientWorkspace:
    """Buffers for computing the loss gradient of mini-batches of up to ``batch_size`` rows.

    Everything a training step touches is allocated here once: the input and target
    batch, the activations, the back-propagated errors and one flat gradient buffer
    laid out like ``network.parameters``. A smaller batch (the last one of an epoch)
    uses leading-row views of the same arrays, so a step allocates no arrays.

    Args:
        network: The network whose gradients are computed. It is only read.
        batch_size: Maximum number of rows per batch.
        loss: Name of the loss to differentiate.

    Attributes:
        inputs: Batch inputs of shape ``(batch_size, input_size)``, filled by the
            caller before ``compute``.
        targets: Batch targets of shape ``(batch_size, output_size)``, filled by the
            caller before ``compute``.
        gradients: Flat gradient of the batch-mean loss, written by ``compute``.
        loss: Canonical name of the differentiated loss.
    """

    def __init__(self, network: FeedForwardNetwork, batch_size: int, loss: str) -> None:
        self.network = network
        self.loss = resolve_loss(loss)
        self._loss_function = LOSSES[self.loss]
        dtype = network.dtype
        widths = network.layer_sizes[1:]

        self.inputs = np.empty((batch_size, network.input_size), dtype)
        self.targets = np.empty((batch_size, network.output_size), dtype)
        self.gradients = np.zeros(network.parameter_count, dtype)
        self._weight_gradients, self._bias_gradients = split_parameters(
            self.gradients, network.layer_sizes
        )
        self._activations = [np.empty((batch_size, width), dtype) for width in widths]
        self._errors = [np.empty((batch_size, width), dtype) for width in widths]
        self._scratch = [np.empty((batch_size, width), dtype) for width in widths]
        self._row_buffer = np.empty((batch_size, 1), dtype)
        # Bias gradients are column sums, computed as ones @ errors: one BLAS call
        # costs half of np.add.reduce along the 64 rows of a mini-batch.
        self._ones = np.ones(batch_size, dtype)
        self._batch_size = batch_size
        self._full_batch_views = self._views(batch_size)

    def _views(self, rows: int) -> tuple:
        return (
            self.inputs[:rows],
            self.targets[:rows],
            [buffer[:rows] for buffer in self._activations],
            [buffer[:rows] for buffer in self._errors],
            [buffer[:rows] for buffer in self._scratch],
            self._row_buffer[:rows],
            self._ones[:rows],
        )

    def compute(self, rows: int) -> dict[str, float]:
        """Run the forward and backward pass on the first ``rows`` rows of the batch.

        Args:
            rows: Number of filled rows of ``inputs`` and ``targets``.

        Returns:
            The batch means of ``cross_entropy`` and ``squared_error``, keyed by loss
            name, both from the same forward pass. Only ``self.loss`` is
            differentiated into ``gradients``.
        """
        network = self.network
        # Every step but the last of an epoch uses the full batch, whose views are
        # built once.
        views = (
            self._full_batch_views if rows == self._batch_size else self._views(rows)
        )
        inputs, targets, activations, errors, scratch, row_buffer, ones = views

        probabilities = network.forward(inputs, activations, scratch, row_buffer)
        losses = {
            name: loss.total(probabilities, targets, scratch[-1]) / rows
            for name, loss in LOSSES.items()
        }

        # errors[l] is dL/dz_l, the gradient with respect to layer l's pre-activations.
        self._loss_function.logits_gradient(
            probabilities, targets, errors[-1], scratch[-1], row_buffer
        )
        weights = network.weights
        activation_function = network.activation_function
        for layer in range(len(weights) - 1, -1, -1):
            layer_inputs = inputs if layer == 0 else activations[layer - 1]
            np.matmul(layer_inputs.T, errors[layer], out=self._weight_gradients[layer])
            np.matmul(ones, errors[layer], out=self._bias_gradients[layer])

            if layer > 0:
                # dL/da_{l-1} = dL/dz_l @ W_l^T, then times f'(z_{l-1}) from a_{l-1}.
                np.matmul(errors[layer], weights[layer].T, out=errors[layer - 1])
                activation_function.multiply_derivative(
                    activations[layer - 1], errors[layer - 1], scratch[layer - 1]
                )

        return losses
