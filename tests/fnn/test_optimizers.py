"""Optimizer updates checked against hand-written equations, plus validation and registry."""

import math

import numpy as np
import pytest

from mnist_fnn.fnn import OPTIMIZERS, Optimizer, make_optimizer, register_optimizer
from mnist_fnn.fnn.optimizers import OPTIMIZER_ALIASES, resolve_optimizer

# Three weights followed by two biases, as in a network's flat parameter buffer.
INITIAL = [0.5, -1.2, 2.0, 0.3, -0.4]
GRADIENTS = ([0.1, -0.3, 0.25, 0.6, -0.05], [-0.2, 0.4, 0.05, -0.1, 0.3])
WEIGHT_COUNT = 3
LEARNING_RATE = 0.1
BETA1, BETA2, EPSILON, DECAY = 0.8, 0.9, 1e-3, 0.5


def hand_updates(name: str, weight_decay: float) -> list[list[float]]:
    """Apply two steps of each update rule one entry at a time, in plain Python."""
    lr, b1, b2, eps = LEARNING_RATE, BETA1, BETA2, EPSILON
    theta = list(INITIAL)
    first = [0.0] * len(theta)
    second = [0.0] * len(theta)
    history = []
    for t, raw in enumerate(GRADIENTS, start=1):
        for i in range(len(theta)):
            g = raw[i] + (weight_decay * theta[i] if i < WEIGHT_COUNT else 0.0)
            if name == "sgd":
                theta[i] = theta[i] - lr * g
            elif name == "momentum":
                first[i] = b1 * first[i] + (1 - b1) * g
                theta[i] = theta[i] - lr * first[i]
            elif name == "nesterov":
                previous = first[i]
                first[i] = b1 * previous - lr * g
                theta[i] = theta[i] - b1 * previous + (1 + b1) * first[i]
            elif name == "rmsprop":
                second[i] = b2 * second[i] + (1 - b2) * g * g
                theta[i] = theta[i] - lr * g / (math.sqrt(second[i]) + eps)
            elif name in ("adam", "nadam"):
                first[i] = b1 * first[i] + (1 - b1) * g
                second[i] = b2 * second[i] + (1 - b2) * g * g
                m_hat = first[i] / (1 - b1**t)
                v_hat = second[i] / (1 - b2**t)
                if name == "adam":
                    direction = m_hat
                else:
                    direction = b1 * m_hat + (1 - b1) * g / (1 - b1**t)
                theta[i] = theta[i] - lr * direction / (math.sqrt(v_hat) + eps)
        history.append(list(theta))
    return history


def run_optimizer(name: str, weight_decay: float, dtype=np.float64) -> list[np.ndarray]:
    optimizer = make_optimizer(
        name,
        learning_rate=LEARNING_RATE,
        beta1=BETA1,
        beta2=BETA2,
        epsilon=EPSILON,
        weight_decay=weight_decay,
    )
    parameters = np.array(INITIAL, dtype=dtype)
    history = []
    for gradient in GRADIENTS:
        optimizer.step(parameters, np.array(gradient, dtype=dtype), WEIGHT_COUNT)
        history.append(parameters.copy())
    return history


@pytest.mark.parametrize("weight_decay", [0.0, DECAY])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_two_steps_match_equations(name, weight_decay):
    expected = hand_updates(name, weight_decay)

    actual = run_optimizer(name, weight_decay)

    np.testing.assert_allclose(actual[0], expected[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(actual[1], expected[1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_float32_steps_stay_float32(name):
    expected = hand_updates(name, DECAY)

    actual = run_optimizer(name, DECAY, dtype=np.float32)

    assert actual[1].dtype == np.float32
    np.testing.assert_allclose(actual[1], expected[1], rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_weight_decay_skips_biases(name):
    decayed = run_optimizer(name, DECAY)
    plain = run_optimizer(name, 0.0)

    np.testing.assert_array_equal(decayed[1][WEIGHT_COUNT:], plain[1][WEIGHT_COUNT:])
    assert np.all(decayed[1][:WEIGHT_COUNT] != plain[1][:WEIGHT_COUNT])


def test_step_count_and_reset():
    optimizer = make_optimizer("adam", learning_rate=0.01)
    parameters = np.zeros(4)

    optimizer.step(parameters, np.ones(4))
    optimizer.step(parameters, np.ones(4))
    assert optimizer.step_count == 2

    optimizer.reset()
    assert optimizer.step_count == 0
    optimizer.step(np.zeros(6), np.ones(6))
    assert optimizer.step_count == 1


def test_state_size_mismatch_message():
    optimizer = make_optimizer("momentum", learning_rate=0.01)
    optimizer.step(np.zeros(4), np.ones(4))

    with pytest.raises(
        ValueError, match=r"has state for 4 float64 parameters .* reset\(\)"
    ):
        optimizer.step(np.zeros(5), np.ones(5))


def test_subnormal_state_flushed_to_zero():
    optimizer = make_optimizer("momentum", learning_rate=0.01, beta1=0.5)
    parameters = np.zeros(2, dtype=np.float32)
    optimizer.step(parameters, np.array([1.0, 1.0], dtype=np.float32))

    # After 140 steps the velocity would be 0.5^139, a non-zero subnormal float32
    # (the smallest normal is about 1.2e-38 = 2^-126); the flush at step 128 zeroes it.
    for _ in range(139):
        optimizer.step(parameters, np.zeros(2, dtype=np.float32))

    np.testing.assert_array_equal(optimizer._velocity, [0.0, 0.0])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Adam", "adam"),
        ("NAG", "nesterov"),
        ("nag", "nesterov"),
        ("RMSProp", "rmsprop"),
        ("NAdam", "nadam"),
        ("SGD", "sgd"),
        ("Momentum", "momentum"),
    ],
)
def test_make_optimizer_names(name, expected):
    optimizer = make_optimizer(name, learning_rate=0.01)

    assert optimizer.name == expected
    assert isinstance(optimizer, OPTIMIZERS[expected])


def test_momentum_keyword_sets_beta1():
    optimizer = make_optimizer("momentum", learning_rate=0.01, beta1=0.5, momentum=0.95)

    assert optimizer.beta1 == 0.95
    assert optimizer.config()["beta1"] == 0.95


def test_unknown_optimizer_message():
    with pytest.raises(ValueError) as error:
        make_optimizer("adamw", learning_rate=0.01)

    assert str(error.value) == (
        "Unknown optimizer 'adamw'. Valid optimizers: adam, momentum (alias sgd_momentum), "
        "nadam, nesterov (alias nag), rmsprop, sgd (alias gradient_descent)."
    )


@pytest.mark.parametrize(
    ("keyword", "value", "message"),
    [
        (
            "learning_rate",
            0.0,
            r"Invalid learning rate: 0\.0\. The learning rate must be a positive",
        ),
        ("learning_rate", -0.1, r"Invalid learning rate: -0\.1\."),
        ("learning_rate", float("nan"), r"Invalid learning rate: nan\."),
        ("learning_rate", float("inf"), r"Invalid learning rate: inf\."),
        ("learning_rate", "0.1", r"Invalid learning rate: '0\.1'\."),
        ("beta1", 1.0, r"Invalid beta1: 1\.0\. beta1 must be in \[0, 1\)\."),
        ("beta1", -0.1, r"Invalid beta1: -0\.1\."),
        ("beta2", 1.5, r"Invalid beta2: 1\.5\. beta2 must be in \[0, 1\)\."),
        (
            "epsilon",
            0.0,
            r"Invalid epsilon: 0\.0\. epsilon must be a positive finite number\.",
        ),
        ("epsilon", -1e-8, r"Invalid epsilon: -1e-08\."),
        (
            "weight_decay",
            -0.01,
            r"Invalid weight decay: -0\.01\. The weight decay must be",
        ),
        ("momentum", 1.0, r"Invalid beta1: 1\.0\."),
    ],
)
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_invalid_hyperparameter_message(name, keyword, value, message):
    arguments = {"learning_rate": 0.01, keyword: value}

    with pytest.raises(ValueError, match=message):
        make_optimizer(name, **arguments)


def test_register_new_optimizer():
    @register_optimizer("sign_sgd", aliases=("signsgd",))
    class SignSGD(Optimizer):
        """theta = theta - lr * sign(g)."""

        def _update(self, parameters, gradients):
            np.sign(gradients, out=self._scratch)
            np.multiply(
                self._scratch, self._cast(self.learning_rate), out=self._scratch
            )
            np.subtract(parameters, self._scratch, out=parameters)

    try:
        optimizer = make_optimizer("SignSGD", learning_rate=0.5)
        parameters = np.array([1.0, 1.0])
        optimizer.step(parameters, np.array([3.0, -0.1]))

        assert resolve_optimizer("sign_sgd") == "sign_sgd"
        np.testing.assert_array_equal(parameters, [0.5, 1.5])
    finally:
        OPTIMIZERS.pop("sign_sgd", None)
        OPTIMIZER_ALIASES.pop("signsgd", None)


def test_register_duplicate_name_rejected():
    with pytest.raises(ValueError, match="Optimizer name 'nag' is already registered"):

        @register_optimizer("nag")
        class Duplicate(Optimizer):
            def _update(self, parameters, gradients):
                pass
