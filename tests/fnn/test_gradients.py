"""Backpropagation compared with central finite differences of an independent forward pass."""

import numpy as np
import pytest

from mnist_fnn.fnn import ACTIVATIONS, LOSSES, FeedForwardNetwork

LAYER_SIZES = (5, 4, 3, 4)
STEP = 1e-6
KINK_MARGIN = 0.05


def reference_activation(name: str, z: np.ndarray, slope: float) -> np.ndarray:
    if name == "identity":
        return z
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    raise AssertionError(f"no reference for {name}")


def reference_forward(
    network: FeedForwardNetwork, x: np.ndarray
) -> tuple[np.ndarray, list]:
    """Return softmax probabilities and the hidden pre-activations, written plainly."""
    hidden = []
    values = x
    for layer, (weights, biases) in enumerate(zip(network.weights, network.biases)):
        z = values @ weights + biases
        if layer < len(network.weights) - 1:
            hidden.append(z)
            values = reference_activation(
                network.activation, z, network.leaky_relu_slope
            )
        else:
            values = z
    shifted = np.exp(values - values.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True), hidden


def reference_loss(
    network: FeedForwardNetwork, x: np.ndarray, y: np.ndarray, loss: str
) -> float:
    probabilities, _ = reference_forward(network, x)
    if loss == "cross_entropy":
        return float(np.mean(-np.sum(y * np.log(probabilities), axis=1)))
    return float(np.mean(np.sum((probabilities - y) ** 2, axis=1)))


def make_batch(network: FeedForwardNetwork, rng: np.random.Generator, count: int):
    """Draw inputs whose hidden pre-activations all lie at least KINK_MARGIN from 0."""
    accepted = []
    while len(accepted) < count:
        candidate = rng.normal(size=(1, LAYER_SIZES[0]))
        _, hidden = reference_forward(network, candidate)
        if all(np.abs(z).min() > KINK_MARGIN for z in hidden):
            accepted.append(candidate[0])
    x = np.array(accepted)
    y = np.eye(LAYER_SIZES[-1])[rng.integers(0, LAYER_SIZES[-1], size=count)]
    return x, y


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_gradient_matches_finite_differences(activation, loss):
    rng = np.random.default_rng(12)
    network = FeedForwardNetwork(
        LAYER_SIZES[0],
        LAYER_SIZES[1:-1],
        LAYER_SIZES[-1],
        activation=activation,
        leaky_relu_slope=0.1,
        dtype="float64",
        rng=rng,
    )
    # Non-zero biases so the bias gradients are checked away from their initial value.
    for biases in network.biases:
        biases[:] = rng.normal(scale=0.5, size=biases.shape)
    x, y = make_batch(network, rng, count=6)

    loss_value, analytic = network.loss_and_gradient(x, y, loss)

    parameters = network.parameters
    numeric = np.empty_like(parameters)
    for index in range(parameters.size):
        original = parameters[index]
        parameters[index] = original + STEP
        loss_plus = reference_loss(network, x, y, loss)
        parameters[index] = original - STEP
        loss_minus = reference_loss(network, x, y, loss)
        parameters[index] = original
        numeric[index] = (loss_plus - loss_minus) / (2 * STEP)

    assert loss_value == pytest.approx(reference_loss(network, x, y, loss), rel=1e-12)
    relative_error = np.linalg.norm(analytic - numeric) / (
        np.linalg.norm(analytic) + np.linalg.norm(numeric)
    )
    assert relative_error < 1e-6
    assert np.abs(analytic - numeric).max() < 1e-7


def test_squared_error_gradient_is_not_elementwise_shortcut():
    # 2 (p - y) p (1 - p) ignores the off-diagonal softmax terms, so it differs from
    # the full-Jacobian gradient whenever two or more classes have probability > 0.
    network = FeedForwardNetwork(3, (), 3, dtype="float64", rng=0)
    x = np.array([[0.3, -0.2, 0.5]])
    y = np.array([[0.0, 1.0, 0.0]])

    _, gradient = network.loss_and_gradient(x, y, "squared_error")

    probabilities, _ = reference_forward(network, x)
    shortcut = 2 * (probabilities - y) * probabilities * (1 - probabilities)
    bias_gradient = gradient[network.weight_count :]
    assert not np.allclose(bias_gradient, shortcut[0])
    assert bias_gradient.sum() == pytest.approx(0.0, abs=1e-15)
