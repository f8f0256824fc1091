"""Activations, softmax and losses: values, numerical stability and name lookup."""

import warnings

import numpy as np
import pytest

from mnist_fnn.fnn import (
    ACTIVATIONS,
    LOSSES,
    make_activation,
    resolve_activation,
    resolve_loss,
    softmax,
)

LARGE_LOGITS = [2345.0, 3456.0, 6543.0, -6789.0, -9234.0]


@pytest.fixture(autouse=True)
def fail_on_numpy_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            yield


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_large_logits(dtype):
    logits = np.array([LARGE_LOGITS], dtype=dtype)

    probabilities = softmax(logits)

    np.testing.assert_array_equal(probabilities, [[0, 0, 1, 0, 0]])
    assert probabilities.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_large_logits(dtype):
    probabilities = softmax(np.array([LARGE_LOGITS, LARGE_LOGITS], dtype=dtype))
    right = np.array([[0, 0, 1, 0, 0], [0, 0, 1, 0, 0]], dtype=dtype)
    wrong = np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 1]], dtype=dtype)

    assert LOSSES["cross_entropy"].mean(probabilities, right) == 0.0
    wrong_loss = LOSSES["cross_entropy"].mean(probabilities, wrong)
    assert np.isfinite(wrong_loss)
    assert wrong_loss == pytest.approx(-np.log(np.finfo(dtype).tiny))


def test_softmax_row_independent_of_batch():
    rng = np.random.default_rng(3)
    batch = rng.normal(scale=50.0, size=(64, 10)).astype(np.float32)
    batch[0] = [1e4, -1e4, 3.0, 2.5, 0.0, -7.0, 9e3, 12.0, 1e4, 1.0]
    batch[1:] *= rng.uniform(1, 1000, size=(63, 1)).astype(np.float32)

    alone = softmax(batch[:1])
    inside = softmax(batch)

    np.testing.assert_array_equal(alone[0], inside[0])
    assert LOSSES["cross_entropy"].mean(alone, np.eye(10, dtype=np.float32)[[2]]) == (
        LOSSES["cross_entropy"].mean(inside[:1], np.eye(10, dtype=np.float32)[[2]])
    )


@pytest.mark.parametrize("classes", [2, 10, 1000])
def test_softmax_equal_logits_uniform(classes):
    logits = np.full((3, classes), 17.25)
    targets = np.eye(classes)[[0, 1, classes - 1]]

    probabilities = softmax(logits)

    np.testing.assert_allclose(probabilities, 1 / classes, rtol=1e-14)
    assert LOSSES["cross_entropy"].mean(probabilities, targets) == pytest.approx(
        np.log(classes), rel=1e-12
    )


def test_softmax_matches_definition():
    logits = np.array([[0.5, -1.0, 2.0], [3.0, 3.0, -3.0]])
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    np.testing.assert_allclose(softmax(logits), expected, rtol=1e-14)


def test_squared_error_value():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    targets = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    first = 0.3**2 + 0.2**2 + 0.1**2
    second = 0.1**2 + 0.9**2 + 0.8**2

    assert LOSSES["squared_error"].mean(probabilities, targets) == pytest.approx(
        (first + second) / 2, rel=1e-12
    )


def test_cross_entropy_soft_targets():
    probabilities = np.array([[0.5, 0.25, 0.25]])
    targets = np.array([[0.5, 0.5, 0.0]])
    expected = -(0.5 * np.log(0.5) + 0.5 * np.log(0.25))

    assert LOSSES["cross_entropy"].mean(probabilities, targets) == pytest.approx(
        expected
    )


REFERENCE_ACTIVATIONS = {
    "identity": (lambda z: z, np.ones_like),
    "sigmoid": (
        lambda z: 1 / (1 + np.exp(-z)),
        lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2,
    ),
    "tanh": (np.tanh, lambda z: 1 / np.cosh(z) ** 2),
    "relu": (lambda z: np.where(z > 0, z, 0.0), lambda z: (z > 0).astype(float)),
    "leaky_relu": (
        lambda z: np.where(z > 0, z, 0.2 * z),
        lambda z: np.where(z > 0, 1.0, 0.2),
    ),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_value_and_derivative(name, dtype):
    function, derivative = REFERENCE_ACTIVATIONS[name]
    z = np.array([[-3.0, -0.7, -0.01, 0.0, 0.02, 0.9, 4.0]], dtype=dtype)
    gradients = np.array([[1.5, -2.0, 0.5, 2.0, 3.0, -1.0, 0.25]], dtype=dtype)
    activation = make_activation(name, leaky_relu_slope=0.2)

    values = z.copy()
    activation.forward(values)
    backpropagated = gradients.copy()
    activation.multiply_derivative(values, backpropagated, np.empty_like(z))

    tolerance = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(values, function(z), rtol=tolerance, atol=1e-15)
    np.testing.assert_allclose(
        backpropagated, gradients * derivative(z), rtol=tolerance * 1e3
    )
    assert backpropagated.dtype == dtype


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_saturating_activation_extreme_inputs(name):
    values = np.array([[-1e4, -800.0, 800.0, 1e4]], dtype=np.float32)

    make_activation(name).forward(values)

    low = 0.0 if name == "sigmoid" else -1.0
    np.testing.assert_array_equal(values, [[low, low, 1.0, 1.0]])


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("ReLU", "relu"),
        ("Leaky-ReLU", "leaky_relu"),
        ("LeakyReLU", "leaky_relu"),
        ("TANH", "tanh"),
        ("logistic", "sigmoid"),
        ("Identity", "identity"),
    ],
)
def test_activation_names_and_aliases(name, canonical):
    assert resolve_activation(name) == canonical


def test_unknown_activation_message():
    with pytest.raises(ValueError) as error:
        resolve_activation("swish")

    assert str(error.value) == (
        "Unknown activation 'swish'. Valid activations: identity (alias linear), "
        "leaky_relu (aliases leakyrelu, lrelu), relu, sigmoid (alias logistic), tanh."
    )


@pytest.mark.parametrize("slope", [-0.1, 1.0, float("nan"), "0.1"])
def test_invalid_leaky_relu_slope(slope):
    with pytest.raises(ValueError, match=r"Invalid leaky_relu_slope: .*\[0, 1\)"):
        make_activation("leaky_relu", leaky_relu_slope=slope)


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Cross-Entropy", "cross_entropy"),
        ("CE", "cross_entropy"),
        ("squared_error", "squared_error"),
    ],
)
def test_loss_names(name, canonical):
    assert resolve_loss(name) == canonical


def test_unknown_loss_message():
    with pytest.raises(
        ValueError, match=r"^Unknown loss 'hinge'\. Valid losses: cross_entropy"
    ):
        resolve_loss("hinge")
