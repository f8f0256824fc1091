"""The training loop: records, callbacks, mini-batching, reproducibility and divergence."""

import math
import tracemalloc

import numpy as np
import pytest

from mnist_fnn.fnn import (
    FeedForwardNetwork,
    Optimizer,
    TrainingDivergedError,
    make_optimizer,
    train,
)

RECORD_KEYS = {
    "epoch",
    "cross_entropy_loss",
    "squared_error_loss",
    "validation_loss",
    "validation_accuracy",
    "test_accuracy",
    "epoch_seconds",
    "evaluation_seconds",
}


def toy_data(rows: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 6)).astype(np.float32)
    labels = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1).astype(int)
    return x, np.eye(3, dtype=np.float32)[labels]


def test_records_and_callbacks():
    x, y = toy_data()
    network = FeedForwardNetwork(6, (8,), 3, rng=0)
    epoch_records, batch_calls = [], []

    history = train(
        network,
        x,
        y,
        epochs=3,
        batch_size=16,
        validation_data=(x[:20], y[:20]),
        test_data=(x[20:], y[20:]),
        epoch_callbacks=[epoch_records.append],
        batch_callbacks=[lambda *arguments: batch_calls.append(arguments)],
    )

    assert len(history) == 3
    assert epoch_records == history
    assert [record["epoch"] for record in history] == [1, 2, 3]
    for record in history:
        assert set(record) == RECORD_KEYS
        assert record["epoch_seconds"] > 0
        assert record["evaluation_seconds"] > 0
        assert 0 <= record["validation_accuracy"] <= 1
        assert 0 <= record["test_accuracy"] <= 1
    # 60 rows in batches of 16: three full batches and one of 12.
    assert batch_calls == [
        (epoch, step, 4) for epoch in (1, 2, 3) for step in (1, 2, 3, 4)
    ]


def test_records_without_evaluation_data():
    x, y = toy_data()
    history = train(FeedForwardNetwork(6, (), 3, rng=0), x, y, epochs=1, batch_size=7)

    assert history[0]["validation_loss"] is None
    assert history[0]["validation_accuracy"] is None
    assert history[0]["test_accuracy"] is None


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_validation_loss_is_configured_loss(loss):
    x, y = toy_data()
    network = FeedForwardNetwork(6, (8,), 3, rng=0)

    history = train(
        network, x, y, epochs=1, batch_size=10, loss=loss, validation_data=(x, y)
    )

    assert history[0]["validation_loss"] == network.evaluate(x, y)[f"{loss}_loss"]


def test_training_losses_come_from_forward_pass():
    # With one full batch, the epoch's training losses are those of the network
    # before its only update.
    x, y = toy_data()
    network = FeedForwardNetwork(6, (8,), 3, rng=0)
    before = network.evaluate(x, y)

    history = train(network, x, y, epochs=1, batch_size=len(x), optimizer="sgd")

    assert history[0]["cross_entropy_loss"] == pytest.approx(
        before["cross_entropy_loss"], rel=1e-5
    )
    assert history[0]["squared_error_loss"] == pytest.approx(
        before["squared_error_loss"], rel=1e-5
    )


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_minibatches_follow_seeded_permutation(loss):
    x, y = toy_data(rows=10)
    network = FeedForwardNetwork(6, (5,), 3, dtype="float64", rng=1)
    replica = FeedForwardNetwork(6, (5,), 3, dtype="float64", rng=1)

    train(
        network,
        x,
        y,
        epochs=2,
        batch_size=4,
        optimizer="sgd",
        learning_rate=0.5,
        loss=loss,
        rng=7,
    )

    # Replay by hand: a fresh permutation per epoch, batches of 4, 4 and 2 rows.
    generator = np.random.default_rng(7)
    for _ in range(2):
        order = generator.permutation(10)
        for start in range(0, 10, 4):
            rows = order[start : start + 4]
            _, gradient = replica.loss_and_gradient(x[rows], y[rows], loss)
            replica.parameters[:] -= 0.5 * gradient
    np.testing.assert_allclose(network.parameters, replica.parameters, rtol=1e-12)


@pytest.mark.slow
def test_same_seed_identical_results(mnist_train):
    x, y = mnist_train[0][:1000], mnist_train[1][:1000]

    def run(seed):
        network = FeedForwardNetwork(784, (32, 32), 10, rng=seed)
        history = train(
            network, x, y, epochs=2, batch_size=50, validation_data=(x[:200], y[:200])
        )
        metrics = [
            {k: v for k, v in r.items() if not k.endswith("seconds")} for r in history
        ]
        return network.parameters.copy(), metrics

    first_parameters, first_metrics = run(3)
    second_parameters, second_metrics = run(3)
    other_parameters, other_metrics = run(4)

    np.testing.assert_array_equal(first_parameters, second_parameters)
    assert first_metrics == second_metrics
    assert not np.array_equal(first_parameters, other_parameters)
    assert first_metrics != other_metrics


def test_shuffle_seed_changes_result_not_initial_weights():
    x, y = toy_data()
    first = FeedForwardNetwork(6, (8,), 3, rng=0)
    second = FeedForwardNetwork(6, (8,), 3, rng=0)

    train(first, x, y, epochs=1, batch_size=8, rng=1)
    train(second, x, y, epochs=1, batch_size=8, rng=2)

    assert not np.array_equal(first.parameters, second.parameters)


def test_training_config_recorded():
    x, y = toy_data()
    network = FeedForwardNetwork(6, (8,), 3, rng=0)

    train(
        network,
        x,
        y,
        epochs=2,
        batch_size=8,
        optimizer="NAG",
        learning_rate=0.01,
        momentum=0.8,
    )

    assert network.training_config == {
        "optimizer": "nesterov",
        "learning_rate": 0.01,
        "beta1": 0.8,
        "beta2": 0.999,
        "epsilon": 1e-8,
        "weight_decay": 0.0,
        "loss": "cross_entropy",
        "epochs": 2,
        "batch_size": 8,
    }


def test_optimizer_instance_keeps_state():
    x, y = toy_data()
    network = FeedForwardNetwork(6, (8,), 3, rng=0)
    optimizer = make_optimizer("rmsprop", learning_rate=0.01, beta2=0.9)

    train(network, x, y, epochs=1, batch_size=20, optimizer=optimizer)
    train(network, x, y, epochs=2, batch_size=20, optimizer=optimizer)

    assert optimizer.step_count == 9
    assert network.training_config["optimizer"] == "rmsprop"
    assert network.training_config["beta2"] == 0.9


def test_batch_larger_than_data_is_full_batch():
    x, y = toy_data(rows=5)
    steps = []

    train(
        FeedForwardNetwork(6, (), 3, rng=0),
        x,
        y,
        epochs=2,
        batch_size=64,
        batch_callbacks=[lambda epoch, step, total: steps.append((epoch, step, total))],
    )

    assert steps == [(1, 1, 1), (2, 1, 1)]


def test_integer_labels_accepted():
    x, y = toy_data()
    one_hot = FeedForwardNetwork(6, (8,), 3, rng=0)
    labels = FeedForwardNetwork(6, (8,), 3, rng=0)

    train(one_hot, x, y, epochs=1, batch_size=8)
    train(labels, x, y.argmax(axis=1), epochs=1, batch_size=8)

    np.testing.assert_array_equal(one_hot.parameters, labels.parameters)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"epochs": 0}, r"Invalid epochs: 0\. It must be an integer >= 1\."),
        ({"epochs": 1.5}, r"Invalid epochs: 1\.5\."),
        ({"batch_size": 0}, r"Invalid batch_size: 0\. It must be an integer >= 1\."),
        ({"batch_size": -8}, r"Invalid batch_size: -8\."),
        (
            {"optimizer": "adamw"},
            r"Unknown optimizer 'adamw'\. Valid optimizers: adam,",
        ),
        ({"learning_rate": 0}, r"Invalid learning rate: 0\."),
        ({"beta1": 1.0}, r"Invalid beta1: 1\.0\."),
        ({"epsilon": 0.0}, r"Invalid epsilon: 0\.0\."),
        ({"weight_decay": -1.0}, r"Invalid weight decay: -1\.0\."),
        ({"loss": "hinge"}, r"Unknown loss 'hinge'\."),
        (
            {"validation_data": (np.ones((3, 5)), np.ones((3, 3)))},
            r"validation_data inputs must have shape \(n, 6\)",
        ),
        (
            {"test_data": (np.ones((3, 6)), np.ones((2, 3)))},
            r"Targets must have shape \(3, 3\)",
        ),
    ],
)
def test_invalid_arguments_message(arguments, message):
    x, y = toy_data()
    settings = {"epochs": 1, "batch_size": 8, **arguments}

    with pytest.raises(ValueError, match=message):
        train(FeedForwardNetwork(6, (8,), 3, rng=0), x, y, **settings)


@pytest.mark.slow
def test_divergence_raises_with_epoch_and_step(mnist_train):
    x, y = mnist_train[0][:1000], mnist_train[1][:1000]
    network = FeedForwardNetwork(784, (64, 64), 10, rng=0)

    with pytest.raises(TrainingDivergedError) as error:
        train(
            network, x, y, epochs=3, batch_size=100, optimizer="sgd", learning_rate=1e6
        )

    assert isinstance(error.value, RuntimeError)
    assert error.value.epoch >= 1
    assert 1 <= error.value.step <= 10
    assert not math.isfinite(error.value.loss_value)
    message = str(error.value)
    assert f"epoch {error.value.epoch}, step {error.value.step} of 10" in message
    assert (
        "cross_entropy loss is nan" in message or "cross_entropy loss is inf" in message
    )
    assert "Lower the learning rate (currently 1e+06)" in message


class InfinityOptimizer(Optimizer):
    """Sets every parameter to infinity on its third step, keeping losses finite until then."""

    def _update(self, parameters, gradients):
        if self.step_count == 3:
            parameters[:] = np.inf


@pytest.mark.parametrize(
    ("with_validation", "problem"),
    [
        (False, "because the parameters contain NaN or infinite values."),
        (True, "because the validation cross_entropy loss is nan."),
    ],
)
def test_divergence_on_last_step(with_validation, problem):
    x, y = toy_data(rows=30)
    validation = (x, y) if with_validation else None

    with pytest.raises(TrainingDivergedError) as error:
        train(
            FeedForwardNetwork(6, (8,), 3, rng=0),
            x,
            y,
            epochs=2,
            batch_size=10,
            optimizer=InfinityOptimizer(learning_rate=0.1),
            validation_data=validation,
        )

    assert error.value.epoch == 1
    assert error.value.step == 3
    assert str(error.value).startswith(
        f"Training diverged at epoch 1, step 3 of 3, {problem}"
    )


def test_steps_allocate_no_arrays():
    rng = np.random.default_rng(0)
    x = rng.random((2560, 100), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 2560)]
    network = FeedForwardNetwork(100, (256, 256), 10, rng=0)
    peaks = []

    def measure(epoch, step, steps):
        current, peak = tracemalloc.get_traced_memory()
        peaks.append(peak - current)
        tracemalloc.reset_peak()

    tracemalloc.start()
    try:
        train(network, x, y, epochs=2, batch_size=256, batch_callbacks=[measure])
    finally:
        tracemalloc.stop()

    # Skip the first step of each epoch: it follows the optimizer's state allocation
    # or the new permutation. One (256, 256) float32 activation buffer is 256 kB.
    # NumPy's broadcasting ufuncs allocate an iteration buffer of at most
    # np.getbufsize() = 8192 elements (32 kB in float32) per call, which the bound
    # allows.
    steady = peaks[1:10] + peaks[11:]
    assert max(steady) < 64 * 1024


@pytest.mark.slow
def test_real_mnist_accuracy(mnist_train, mnist_test):
    network = FeedForwardNetwork(784, (128, 128, 128), 10, rng=0)

    history = train(
        network, *mnist_train, epochs=3, batch_size=64, test_data=mnist_test
    )

    # Measured with this seed: test accuracy 0.8865 on the first 2,000 test images,
    # which are harder than the rest (0.9137 on all 10,000).
    assert history[-1]["test_accuracy"] > 0.86
    assert history[-1]["cross_entropy_loss"] < history[0]["cross_entropy_loss"]
    assert network.evaluate(*mnist_test)["accuracy"] == history[-1]["test_accuracy"]
