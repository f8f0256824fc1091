"""Tests for the training and evaluation nodes on a slice of the real MNIST."""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

import mnist_fnn.pipelines.training.nodes as training_nodes
from mnist_fnn.datasets import IDXDataset
from mnist_fnn.epoch_listeners import add_epoch_listener, remove_epoch_listener
from mnist_fnn.pipelines.data_processing.nodes import flatten_and_scale, one_hot_encode
from mnist_fnn.pipelines.training.nodes import (
    _log_blas_threads,
    _ProgressBar,
    evaluate_model,
    resolve_configuration,
    train_model,
)
from mnist_fnn.validation import ParameterError
from tests.conftest import blas_thread_counts

MNIST_DIR = Path(__file__).resolve().parents[3] / "data/01_raw/mnist"
DEFAULTS = {
    "epochs": 2,
    "batch_size": 32,
    "hidden_sizes": [128, 128, 128],
    "activation": "relu",
    "leaky_relu_slope": 0.01,
    "initialization": "xavier",
    "loss": "cross_entropy",
    "optimizer": "adam",
    "learning_rate": 0.001,
    "beta1": 0.9,
    "beta2": 0.999,
    "epsilon": 1.0e-8,
    "weight_decay": 0.0,
    "dtype": "float32",
    "seed": 42,
}
CONFIGURATION = {"hidden_sizes": [32], "optimizer": "nadam"}


def load_split(images: str, labels: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
    x = flatten_and_scale(IDXDataset(filepath=str(MNIST_DIR / images)).load()[:rows])
    y = one_hot_encode(IDXDataset(filepath=str(MNIST_DIR / labels)).load()[:rows], 10)
    return x, y


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    x, y = load_split("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 3000)
    x_test, y_test = load_split(
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 1000
    )
    return {
        "x_train": x[:2500],
        "y_train": y[:2500],
        "x_validation": x[2500:],
        "y_validation": y[2500:],
        "x_test": x_test,
        "y_test": y_test,
    }


@pytest.fixture(scope="module")
def trained(data):
    return train_model(**data, defaults=DEFAULTS, configuration=CONFIGURATION)


def test_resolve_configuration_overrides_win():
    resolved = resolve_configuration(DEFAULTS, CONFIGURATION)

    assert resolved["hidden_sizes"] == [32]
    assert resolved["optimizer"] == "nadam"
    assert resolved["learning_rate"] == DEFAULTS["learning_rate"]
    assert DEFAULTS["optimizer"] == "adam"


def test_train_model_uses_configuration(trained):
    network, history = trained

    assert network.hidden_sizes == (32,)
    assert network.training_config["parameters"]["optimizer"] == "nadam"
    assert network.training_config["parameters"]["seed"] == 42
    assert list(history["epoch"]) == [1, 2]


def test_train_model_history_columns(trained):
    _, history = trained

    for column in (
        "cross_entropy_loss",
        "squared_error_loss",
        "validation_loss",
        "validation_accuracy",
        "test_accuracy",
        "epoch_seconds",
    ):
        assert column in history.columns
    assert history["cross_entropy_loss"].iloc[1] < history["cross_entropy_loss"].iloc[0]
    assert history["test_accuracy"].iloc[-1] > 0.8


def test_train_model_records_data_checksums(trained, data):
    network, _ = trained
    recorded = network.training_config["data"]

    for name, array in data.items():
        assert recorded[name]["shape"] == list(array.shape)
        expected = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
        assert recorded[name]["sha256"] == expected


def test_train_model_records_environment_and_timings(trained):
    network, history = trained
    training_config = network.training_config

    assert training_config["environment"]["packages"]["numpy"] == np.__version__
    assert training_config["timings"]["epoch_seconds"] == list(history["epoch_seconds"])
    assert training_config["timings"]["training_seconds"] >= sum(
        history["epoch_seconds"]
    )


def test_train_model_same_seed_same_weights(trained, data):
    network, _ = trained
    again, _ = train_model(**data, defaults=DEFAULTS, configuration=CONFIGURATION)

    assert np.array_equal(network.parameters, again.parameters)


def test_train_model_notifies_epoch_listeners(data):
    records = []
    add_epoch_listener(records.append)
    try:
        train_model(
            **data,
            defaults={**DEFAULTS, "epochs": 1},
            configuration={"hidden_sizes": [8]},
        )
    finally:
        remove_epoch_listener(records.append)

    assert [record["epoch"] for record in records] == [1]
    assert 0.0 <= records[0]["test_accuracy"] <= 1.0


def test_train_model_without_validation_split(data):
    empty_x = data["x_train"][:0]
    empty_y = data["y_train"][:0]
    network, history = train_model(
        data["x_train"],
        data["y_train"],
        empty_x,
        empty_y,
        data["x_test"],
        data["y_test"],
        defaults={**DEFAULTS, "epochs": 1},
        configuration={"hidden_sizes": [8]},
    )

    assert history["validation_accuracy"].isna().all()
    assert network.training_config["data"]["x_validation"]["shape"] == [0, 784]


def test_evaluate_model_confusion_matrix(trained, data):
    network, _ = trained
    metrics = evaluate_model(network, data["x_test"], data["y_test"])

    predicted = network.predict(data["x_test"])
    true = data["y_test"].argmax(axis=1)
    expected = [[0] * 10 for _ in range(10)]
    for true_class, predicted_class in zip(true, predicted, strict=True):
        expected[true_class][predicted_class] += 1
    assert metrics["confusion_matrix"] == expected
    assert metrics["test_accuracy"] == pytest.approx(np.mean(predicted == true))


def test_evaluate_model_per_class_scores(trained, data):
    network, _ = trained
    metrics = evaluate_model(network, data["x_test"], data["y_test"])
    confusion = np.array(metrics["confusion_matrix"])

    for digit in range(10):
        true_positives = confusion[digit, digit]
        precision = true_positives / confusion[:, digit].sum()
        recall = true_positives / confusion[digit, :].sum()
        f1 = 2 * precision * recall / (precision + recall)
        assert metrics["per_class"]["precision"][digit] == pytest.approx(precision)
        assert metrics["per_class"]["recall"][digit] == pytest.approx(recall)
        assert metrics["per_class"]["f1"][digit] == pytest.approx(f1)
        assert metrics["per_class"]["support"][digit] == confusion[digit].sum()


def test_evaluate_model_losses_match_network(trained, data):
    network, _ = trained
    metrics = evaluate_model(network, data["x_test"], data["y_test"])
    scores = network.evaluate(data["x_test"], data["y_test"])

    assert metrics["test_cross_entropy_loss"] == scores["cross_entropy_loss"]
    assert metrics["test_squared_error_loss"] == scores["squared_error_loss"]
    assert metrics["training"] == network.training_config
    assert metrics["architecture"]["hidden_sizes"] == [32]


def test_progress_bar_renders_every_epoch():
    output = io.StringIO()
    console = Console(file=output, force_terminal=True, width=80)
    with _ProgressBar("Rec_9", epochs=2, console=console) as (advance,):
        for epoch in (1, 2):
            for step in range(1, 4):
                advance(epoch, step, 3)
        rendered = output.getvalue()

    assert "Rec_9 epoch 1/2" in rendered
    assert "Rec_9 epoch 2/2" in rendered


def test_train_model_warns_at_chance_level(data, caplog):
    with caplog.at_level(logging.WARNING):
        _, history = train_model(
            **data,
            defaults={**DEFAULTS, "epochs": 2},
            configuration={
                "hidden_sizes": [64, 64],
                "optimizer": "sgd",
                "learning_rate": 50,
            },
        )

    warnings = [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING
    ]
    assert history["validation_accuracy"].max() <= 0.15
    assert len(warnings) == 1
    assert "is at chance level for 10 classes" in warnings[0]
    assert "lower learning rate than 50" in warnings[0]


def test_train_model_no_warning_when_learning(data, caplog):
    with caplog.at_level(logging.WARNING):
        _, history = train_model(**data, defaults=DEFAULTS, configuration=CONFIGURATION)

    assert history["validation_accuracy"].iloc[-1] > 0.15
    assert not [r for r in caplog.records if "chance level" in r.getMessage()]


def test_train_model_logs_configuration_name(data, caplog):
    with caplog.at_level(logging.INFO):
        train_model(
            **data,
            defaults={**DEFAULTS, "epochs": 1},
            configuration={"hidden_sizes": [8]},
            configuration_name="Tiny",
        )

    epoch_lines = [
        r.getMessage() for r in caplog.records if " epoch " in r.getMessage()
    ]
    assert len(epoch_lines) == 1
    assert epoch_lines[0].startswith("Tiny epoch 1/1: cross-entropy ")
    assert "validation accuracy 0." in epoch_lines[0]


def train_recording_blas_threads(data, defaults, configuration, fail=False):
    """Train one epoch and return the BLAS thread counts seen at its end."""
    seen = []

    def record(_record):
        seen.extend(blas_thread_counts())
        if fail:
            raise RuntimeError("training failed on purpose")

    add_epoch_listener(record)
    try:
        train_model(
            **data,
            defaults={**DEFAULTS, "epochs": 1, **defaults},
            configuration={"hidden_sizes": [8], **configuration},
        )
    finally:
        remove_epoch_listener(record)
    return seen


def test_blas_threads_limits_training(data, two_blas_threads):
    seen = train_recording_blas_threads(data, {"blas_threads": 1}, {})

    assert seen
    assert set(seen) == {1}
    assert set(blas_thread_counts()) == {2}


def test_blas_threads_restored_after_error(data, two_blas_threads):
    with pytest.raises(RuntimeError, match="training failed on purpose"):
        train_recording_blas_threads(data, {"blas_threads": 1}, {}, fail=True)

    assert set(blas_thread_counts()) == {2}


def test_blas_threads_null_keeps_count(data, two_blas_threads):
    seen = train_recording_blas_threads(data, {"blas_threads": None}, {})

    assert seen
    assert set(seen) == {2}
    assert set(blas_thread_counts()) == {2}


def test_configuration_blas_threads_wins(data, two_blas_threads):
    seen = train_recording_blas_threads(
        data, {"blas_threads": None}, {"blas_threads": 1}
    )

    assert set(seen) == {1}
    assert set(blas_thread_counts()) == {2}


def test_blas_threads_capped_at_cpus(data, two_blas_threads, monkeypatch, caplog):
    monkeypatch.setattr(training_nodes, "available_cpus", lambda: 1)

    with caplog.at_level(logging.WARNING):
        seen = train_recording_blas_threads(data, {"blas_threads": 3}, {})

    assert set(seen) == {1}
    assert set(blas_thread_counts()) == {2}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].endswith(
        ": blas_threads 3 is more than the 1 CPUs this process may use, so it "
        "trains with 1 BLAS threads. More threads than CPUs make OpenBLAS many "
        "times slower."
    )


def test_blas_threads_skipped_outside_main_thread(data, two_blas_threads, caplog):
    results = {}

    def train_in_thread():
        results["seen"] = train_recording_blas_threads(data, {"blas_threads": 1}, {})

    with caplog.at_level(logging.INFO):
        worker = threading.Thread(target=train_in_thread)
        worker.start()
        worker.join()

    assert set(results["seen"]) == {2}
    assert set(blas_thread_counts()) == {2}
    thread_lines = [
        r.getMessage() for r in caplog.records if "trains with BLAS" in r.getMessage()
    ]
    assert len(thread_lines) == 1
    assert thread_lines[0].endswith(" 2 (blas_threads: 1, not applied)")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].endswith(
        ": blas_threads 1 is not applied, because this configuration trains outside "
        "the main thread (the thread runner), where all configurations share one "
        "BLAS thread count. Use the sequential runner, or set OPENBLAS_NUM_THREADS "
        "before the run."
    )


def test_train_model_records_blas_threads(data, two_blas_threads, caplog):
    with caplog.at_level(logging.INFO):
        network, _ = train_model(
            **data,
            defaults={**DEFAULTS, "epochs": 1, "blas_threads": None},
            configuration={"hidden_sizes": [8], "blas_threads": 1},
            configuration_name="Tiny",
        )

    assert network.training_config["parameters"]["blas_threads"] == 1
    libraries = network.training_config["environment"]["blas"]
    assert libraries
    assert {library["threads"] for library in libraries} == {1}
    blas_lines = [
        r.getMessage() for r in caplog.records if "BLAS threads" in r.getMessage()
    ]
    assert len(blas_lines) == 1
    assert blas_lines[0].startswith("Tiny trains with BLAS threads: ")
    assert blas_lines[0].endswith(" 1 (blas_threads: 1)")


def test_train_model_logs_null_blas_threads(data, two_blas_threads, caplog):
    with caplog.at_level(logging.INFO):
        train_model(
            **data,
            defaults={**DEFAULTS, "epochs": 1},
            configuration={"hidden_sizes": [8]},
            configuration_name="Tiny",
        )

    blas_lines = [
        r.getMessage() for r in caplog.records if "BLAS threads" in r.getMessage()
    ]
    assert len(blas_lines) == 1
    assert blas_lines[0].endswith(" 2 (blas_threads: null, the library's own count)")


def test_train_model_rejects_zero_blas_threads(data):
    with pytest.raises(ParameterError) as raised:
        train_model(
            **data,
            defaults=DEFAULTS,
            configuration={"hidden_sizes": [8], "blas_threads": 0},
        )

    assert (
        "- configuration.blas_threads: Invalid blas_threads: 0. It must be an "
        "integer >= 1, or null to keep the BLAS library's own thread count."
        in str(raised.value)
    )


def test_unapplied_blas_threads_warns(caplog):
    libraries = [{"library": "openblas", "version": "0.3.31", "threads": 2}]
    with caplog.at_level(logging.INFO):
        _log_blas_threads("Tiny", 1, libraries)

    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert messages[0] == (
        logging.INFO,
        "Tiny trains with BLAS threads: openblas 2 (blas_threads: 1)",
    )
    assert messages[1][0] == logging.WARNING
    assert messages[1][1].startswith(
        "Tiny: blas_threads 1 is not applied, and the BLAS threads are openblas 2."
    )
    assert len(messages) == 2


def test_blas_threads_without_library_warns(caplog):
    with caplog.at_level(logging.INFO):
        _log_blas_threads("Tiny", 1, [])
        _log_blas_threads("Tiny", None, [])

    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert messages[0][0] == logging.WARNING
    assert messages[0][1].startswith(
        "Tiny: blas_threads 1 has no effect, because threadpoolctl finds no BLAS "
        "library in this process."
    )
    assert messages[1] == (
        logging.INFO,
        "Tiny trains with an unknown BLAS thread count (blas_threads: null, the "
        "library's own count): threadpoolctl finds no BLAS library in this process",
    )
