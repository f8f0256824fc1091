"""Network construction, parameter layout, initialisation and inference."""

import json

import numpy as np
import pytest

from mnist_fnn.fnn import FeedForwardNetwork


@pytest.mark.parametrize("hidden_sizes", [(128, 128, 128), (128,) * 5, (64, 64), ()])
def test_architectures_shapes_and_layout(hidden_sizes):
    network = FeedForwardNetwork(784, hidden_sizes, 10, rng=0)
    sizes = (784, *hidden_sizes, 10)
    weight_count = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))

    assert network.hidden_sizes == tuple(hidden_sizes)
    assert [w.shape for w in network.weights] == list(zip(sizes[:-1], sizes[1:]))
    assert [b.shape for b in network.biases] == [(size,) for size in sizes[1:]]
    assert network.parameters.shape == (weight_count + sum(sizes[1:]),)
    assert network.weight_count == weight_count
    for array in network.weights + network.biases:
        assert np.shares_memory(array, network.parameters)
    # Weights come first in the flat buffer, so weight decay can take a prefix.
    assert network.biases[0].ctypes.data == (
        network.parameters.ctypes.data + weight_count * network.dtype.itemsize
    )

    probabilities = network.predict_proba(np.random.default_rng(1).random((5, 784)))
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_other_input_and_output_sizes():
    network = FeedForwardNetwork(3, (7,), 2, activation="tanh", rng=0)

    predictions = network.predict(np.ones((4, 3)))

    assert predictions.shape == (4,)
    assert predictions.dtype == np.int64
    assert set(predictions) <= {0, 1}


def test_views_write_through_to_parameters():
    network = FeedForwardNetwork(4, (3,), 2, rng=0)

    network.weights[1][2, 1] = 42.0
    network.biases[0][0] = -7.0

    assert 42.0 in network.parameters
    assert -7.0 in network.parameters


def test_xavier_initialisation_range():
    network = FeedForwardNetwork(784, (128, 64), 10, initialization="Xavier", rng=5)

    for weights in network.weights:
        fan_in, fan_out = weights.shape
        limit = np.sqrt(6 / (fan_in + fan_out))
        assert np.abs(weights).max() <= limit
        assert np.abs(weights).max() > 0.95 * limit
        # Uniform on [-limit, limit] has standard deviation limit / sqrt(3).
        assert weights.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)
    for biases in network.biases:
        np.testing.assert_array_equal(biases, 0)


def test_random_initialisation_std():
    network = FeedForwardNetwork(784, (128,), 10, initialization="random", rng=5)

    assert network.weights[0].std() == pytest.approx(0.01, rel=0.02)
    assert abs(network.weights[0].mean()) < 0.001
    for biases in network.biases:
        np.testing.assert_array_equal(biases, 0)


def test_same_seed_same_weights():
    first = FeedForwardNetwork(20, (8, 8), 3, rng=11)
    second = FeedForwardNetwork(20, (8, 8), 3, rng=np.random.default_rng(11))
    other = FeedForwardNetwork(20, (8, 8), 3, rng=12)

    np.testing.assert_array_equal(first.parameters, second.parameters)
    assert not np.array_equal(first.parameters, other.parameters)


@pytest.mark.parametrize(
    "dtype", ["float32", "float64", np.float64, np.dtype("float32")]
)
def test_dtype_selection(dtype):
    network = FeedForwardNetwork(6, (5,), 3, dtype=dtype, rng=0)

    assert network.dtype == np.dtype(dtype)
    assert network.parameters.dtype == np.dtype(dtype)
    assert network.predict_proba(np.ones((2, 6))).dtype == np.dtype(dtype)


def test_names_are_canonical():
    network = FeedForwardNetwork(
        6, (5,), 3, activation="Leaky-ReLU", initialization="glorot"
    )

    assert network.activation == "leaky_relu"
    assert network.initialization == "xavier"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"hidden_sizes": (128, 0)},
            r"Invalid hidden_sizes\[1\]: 0\. It must be a positive integer\.",
        ),
        ({"hidden_sizes": (-4,)}, r"Invalid hidden_sizes\[0\]: -4\."),
        ({"hidden_sizes": (128, 2.5)}, r"Invalid hidden_sizes\[1\]: 2\.5\."),
        ({"hidden_sizes": (128, None)}, r"Invalid hidden_sizes\[1\]: None\."),
        ({"hidden_sizes": (True,)}, r"Invalid hidden_sizes\[0\]: True\."),
        (
            {"hidden_sizes": "128"},
            r"Invalid hidden_sizes: '128'\. It must be a sequence",
        ),
        ({"hidden_sizes": 128}, r"Invalid hidden_sizes: 128\."),
        ({"input_size": 0}, r"Invalid input_size: 0\."),
        ({"output_size": 1.5}, r"Invalid output_size: 1\.5\."),
        (
            {"dtype": "float16"},
            r"Unsupported dtype 'float16'\. Valid dtypes: float32, float64\.",
        ),
        ({"dtype": "int32"}, r"Unsupported dtype 'int32'\."),
        (
            {"activation": "gelu"},
            r"Unknown activation 'gelu'\. Valid activations: identity",
        ),
        (
            {"initialization": "he"},
            r"Unknown initialization 'he'\. Valid initializations: random",
        ),
        ({"leaky_relu_slope": -1.0}, r"Invalid leaky_relu_slope: -1\.0\."),
    ],
)
def test_invalid_arguments_message(arguments, message):
    with pytest.raises(ValueError, match=message):
        FeedForwardNetwork(
            **{"input_size": 4, "hidden_sizes": (3,), "output_size": 2, **arguments}
        )


def test_architecture_round_trip():
    network = FeedForwardNetwork(
        12, [6, 5], 4, activation="LeakyReLU", leaky_relu_slope=0.2, dtype="float64"
    )

    architecture = json.loads(json.dumps(network.architecture()))
    rebuilt = FeedForwardNetwork(**architecture)

    assert architecture == {
        "input_size": 12,
        "hidden_sizes": [6, 5],
        "output_size": 4,
        "activation": "leaky_relu",
        "leaky_relu_slope": 0.2,
        "initialization": "xavier",
        "dtype": "float64",
    }
    assert rebuilt.architecture() == architecture
    assert network.training_config == {}


def test_predict_proba_matches_plain_forward():
    rng = np.random.default_rng(4)
    network = FeedForwardNetwork(
        9, (7, 6), 5, activation="sigmoid", dtype="float64", rng=rng
    )
    x = rng.normal(size=(11, 9))

    values = x
    for weights, biases in zip(network.weights[:-1], network.biases[:-1]):
        values = 1 / (1 + np.exp(-(values @ weights + biases)))
    logits = values @ network.weights[-1] + network.biases[-1]
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    np.testing.assert_allclose(network.predict_proba(x), expected, rtol=1e-12)
    np.testing.assert_array_equal(network.predict(x), expected.argmax(axis=1))


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 100])
def test_chunked_inference_matches_single_chunk(chunk_size):
    rng = np.random.default_rng(8)
    network = FeedForwardNetwork(30, (16, 16), 4, rng=rng)
    x = rng.random((23, 30))
    y = np.eye(4)[rng.integers(0, 4, 23)]

    whole = network.predict_proba(x, chunk_size=1000)
    chunked = network.predict_proba(x, chunk_size=chunk_size)

    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(network.predict(x, chunk_size), whole.argmax(axis=1))
    for key, value in network.evaluate(x, y, chunk_size).items():
        assert value == pytest.approx(network.evaluate(x, y, 1000)[key], rel=1e-5)


def test_evaluate_matches_definitions():
    rng = np.random.default_rng(9)
    network = FeedForwardNetwork(8, (6,), 3, dtype="float64", rng=rng)
    x = rng.normal(size=(40, 8))
    labels = rng.integers(0, 3, 40)
    y = np.eye(3)[labels]
    probabilities = network.predict_proba(x)

    metrics = network.evaluate(x, y, chunk_size=16)

    assert set(metrics) == {"cross_entropy_loss", "squared_error_loss", "accuracy"}
    assert metrics["cross_entropy_loss"] == pytest.approx(
        np.mean(-np.log(probabilities[np.arange(40), labels])), rel=1e-12
    )
    assert metrics["squared_error_loss"] == pytest.approx(
        np.mean(np.sum((probabilities - y) ** 2, axis=1)), rel=1e-12
    )
    assert metrics["accuracy"] == np.mean(probabilities.argmax(axis=1) == labels)
    assert network.evaluate(x, labels) == metrics


def test_predict_rejects_wrong_shape():
    network = FeedForwardNetwork(8, (6,), 3, rng=0)

    with pytest.raises(
        ValueError, match=r"Inputs must have shape \(n, 8\), got \(4, 7\)\."
    ):
        network.predict(np.ones((4, 7)))
    with pytest.raises(ValueError, match=r"Invalid chunk_size: 0\."):
        network.predict(np.ones((4, 8)), chunk_size=0)


def test_evaluate_rejects_mismatched_targets():
    network = FeedForwardNetwork(8, (6,), 3, rng=0)

    with pytest.raises(
        ValueError, match=r"Targets must have shape \(4, 3\) .* got \(4, 2\)\."
    ):
        network.evaluate(np.ones((4, 8)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"Class indices must be in \[0, 2\]"):
        network.evaluate(np.ones((2, 8)), np.array([0, 3]))


def test_inference_memory_bounded_by_chunk():
    import tracemalloc  # noqa: PLC0415

    network = FeedForwardNetwork(784, (128, 128, 128), 10, rng=0)
    x = np.zeros((20_000, 784), dtype=np.float32)

    tracemalloc.start()
    try:
        network.predict(x, chunk_size=256)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # The int64 predictions take 160 kB; per-chunk buffers add about 0.4 MB, far
    # less than the 10 MB that a full-size (20,000, 128) float32 layer would need.
    assert peak < 2_000_000
