"""The benchmark's trainers: FLOP count, baseline agreement and the optimizer floor."""

import math

import numpy as np
import pytest
from _trainers import (
    Configuration,
    MatmulBound,
    MatmulOptimizerFloor,
    NotebookTrainer,
    ProjectTrainer,
    initial_parameters,
    matmul_flops_per_epoch,
)

from mnist_fnn.fnn import make_optimizer
from mnist_fnn.fnn.network import split_parameters


def test_flops_tiny_network_by_hand():
    # Layers 4 -> 3 -> 2 and 5 rows. An (r, a) @ (a, b) product counts 2 r a b.
    # Forward products:        (5, 4) @ (4, 3) = 2*5*4*3 = 120
    #                          (5, 3) @ (3, 2) = 2*5*3*2 =  60
    # Weight gradients:        (4, 5) @ (5, 3) = 2*4*5*3 = 120
    #                          (3, 5) @ (5, 2) = 2*3*5*2 =  60
    # Error product, layer 2:  (5, 2) @ (2, 3) = 2*5*2*3 =  60
    # The first layer has no error product. Total: 120 + 60 + 120 + 60 + 60 = 420.
    assert matmul_flops_per_epoch((4, 3, 2), 5) == 420


def test_flops_single_layer_by_hand():
    # Layer 6 -> 2 and 3 rows: forward (3, 6) @ (6, 2) = 2*3*6*2 = 72, weight gradient
    # (6, 3) @ (3, 2) = 72, and no error product. Total: 144.
    assert matmul_flops_per_epoch((6, 2), 3) == 144


def test_flops_rec_3_full_epoch():
    # Rec_3 is 784 -> 64 -> 64 -> 10 on 54,000 rows. Per row:
    # forward 2 * (784*64 + 64*64 + 64*10) = 2 * 54,912 = 109,824,
    # weight gradients the same 109,824,
    # error products 2 * (64*64 + 64*10) = 2 * 4,736 = 9,472,
    # so 229,120 per row and 229,120 * 54,000 = 12,372,480,000 per epoch.
    assert matmul_flops_per_epoch((784, 64, 64, 10), 54_000) == 12_372_480_000


@pytest.mark.parametrize("trainer_class", [MatmulBound, MatmulOptimizerFloor])
def test_flops_match_products_made(monkeypatch, trainer_class):
    configuration = Configuration("tiny", (16, 8), "adam", 0.001)
    rows, batch_size = 150, 64
    trainer = trainer_class(configuration, rows, batch_size=batch_size, seed=0)
    original_matmul = np.matmul
    counted = []

    def counting_matmul(left, right, **keywords):
        counted.append(2 * left.shape[0] * left.shape[1] * right.shape[1])
        return original_matmul(left, right, **keywords)

    monkeypatch.setattr(np, "matmul", counting_matmul)
    trainer.train_epoch()
    monkeypatch.undo()

    # 3 steps of 64, 64 and 22 rows, and 3 layers: 3 forward products, 3 weight
    # gradients and 2 error products per step.
    assert len(counted) == math.ceil(rows / batch_size) * (3 + 3 + 2)
    assert sum(counted) == matmul_flops_per_epoch(configuration.layer_sizes, rows)


def _notebook_flat_parameters(trainer: NotebookTrainer) -> np.ndarray:
    """Concatenate the notebook's parameters in the layout of the project's buffer."""
    layers = range(1, trainer.layers + 1)
    return np.concatenate(
        [trainer.params[f"W{layer}"].ravel() for layer in layers]
        + [trainer.params[f"b{layer}"].ravel() for layer in layers]
    )


@pytest.mark.parametrize("optimizer", ["adam", "nadam"])
def test_notebook_matches_project_float64(small_training_data, optimizer):
    configuration = Configuration("small", (32, 16), optimizer, 0.001)
    parameters = initial_parameters(configuration, seed=7)
    project = ProjectTrainer(
        configuration,
        small_training_data,
        parameters,
        dtype="float64",
        batch_size=64,
        seed=7,
    )
    notebook = NotebookTrainer(
        configuration, small_training_data, parameters, batch_size=64, seed=7
    )

    project.train_epoch()
    notebook.train_epoch()

    notebook_parameters = _notebook_flat_parameters(notebook)
    # Ten steps move the weights by up to about 0.01, so a wrong update term would
    # differ by far more than the tolerance. The two codes round differently, by
    # about 4e-13 relative after one epoch.
    assert np.abs(notebook_parameters - parameters).max() > 1e-3
    np.testing.assert_allclose(
        project.network.parameters, notebook_parameters, rtol=1e-10, atol=1e-13
    )


def _tiny_floor(rows: int) -> MatmulOptimizerFloor:
    configuration = Configuration("tiny", (16, 8), "adam", 0.001)
    return MatmulOptimizerFloor(configuration, rows, batch_size=64, seed=3)


def test_floor_uses_parameter_buffer_views():
    floor = _tiny_floor(rows=64)
    sizes = floor.network.layer_sizes
    weight_views, _ = split_parameters(floor.parameters, sizes)
    gradient_views, _ = split_parameters(floor.flat_gradients, sizes)

    for layer, weights in enumerate(floor.weights):
        assert np.shares_memory(weights, floor.parameters)
        assert (
            weights.__array_interface__["data"]
            == weight_views[layer].__array_interface__["data"]
        )
        assert weights.shape == weight_views[layer].shape
    for layer, gradients in enumerate(floor.gradients):
        assert np.shares_memory(gradients, floor.flat_gradients)
        assert (
            gradients.__array_interface__["data"]
            == gradient_views[layer].__array_interface__["data"]
        )
        assert gradients.shape == gradient_views[layer].shape


def test_floor_products_write_gradients():
    floor = _tiny_floor(rows=64)
    weight_count = floor.network.weight_count
    initial_bias_gradients = floor.flat_gradients[weight_count:].copy()
    floor.flat_gradients[:weight_count] = np.nan

    floor.train_epoch()

    # One step of 64 rows: each weight gradient in the flat buffer that the
    # optimizer reads is the product of that step's stored layer inputs and errors.
    weight_gradients, _ = split_parameters(
        floor.flat_gradients, floor.network.layer_sizes
    )
    for layer, gradients in enumerate(weight_gradients):
        expected = floor.activations[layer].T @ floor.errors[layer + 1]
        np.testing.assert_allclose(gradients, expected, rtol=1e-5)
    np.testing.assert_array_equal(
        floor.flat_gradients[weight_count:], initial_bias_gradients
    )


def test_floor_optimizer_updates_whole_buffer():
    floor = _tiny_floor(rows=64)
    weight_count = floor.network.weight_count
    before = floor.parameters.copy()

    floor.train_epoch()

    after = floor.parameters
    assert not np.array_equal(after[:weight_count], before[:weight_count])
    assert not np.array_equal(after[weight_count:], before[weight_count:])
    assert floor.optimizer.step_count == 1

    # A fresh Adam step on the same start and gradients gives the same buffer.
    replay = make_optimizer(
        "adam", learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8
    )
    expected = before.copy()
    replay.step(expected, floor.flat_gradients.copy(), weight_count)
    np.testing.assert_array_equal(after, expected)


def test_floor_restarts_parameters_each_epoch():
    floor = _tiny_floor(rows=150)
    initial = floor.parameters.copy()
    optimizer_step = floor.optimizer.step
    parameters_at_steps = []

    def recording_step(parameters, gradients, decay_size):
        parameters_at_steps.append(parameters.copy())
        optimizer_step(parameters, gradients, decay_size)

    floor.optimizer.step = recording_step
    floor.train_epoch()
    first_epoch_end = floor.parameters.copy()
    floor.train_epoch()

    # 3 steps per epoch (64, 64 and 22 rows). Each epoch's first step starts from the
    # initial parameters, and the optimizer state carries over, so the second epoch
    # ends elsewhere than the first.
    assert floor.optimizer.step_count == 6
    assert len(parameters_at_steps) == 6
    np.testing.assert_array_equal(parameters_at_steps[0], initial)
    np.testing.assert_array_equal(parameters_at_steps[3], initial)
    assert not np.array_equal(parameters_at_steps[1], initial)
    assert not np.array_equal(floor.parameters, first_epoch_end)
    assert np.isfinite(floor.parameters).all()
