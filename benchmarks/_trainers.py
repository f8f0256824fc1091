"""The implementations that the epoch-time benchmark trains, one epoch per call.

Every trainer starts from the same initial weights, shuffles with its own
``numpy.random.Generator`` built from the same seed (so all of them see the same row
order in every epoch), and returns from ``train_epoch`` the wall time of the epoch's
steps: batch gathering, forward pass, backward pass and optimizer update. Evaluation
is outside that time. ``MatmulBound`` and ``MatmulOptimizerFloor`` train nothing:
they time only the matrix products of an epoch, and the products plus the optimizer
step, on random data.
"""

import argparse
import math
import time
from dataclasses import dataclass

import numpy as np
from _inputs import INPUT_SIZE, OUTPUT_SIZE, Configuration

from mnist_fnn.fnn import FeedForwardNetwork, Optimizer, make_optimizer, train
from mnist_fnn.fnn.network import split_parameters

BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8


@dataclass(frozen=True)
class TrainingData:
    """Training and test sets in the dtypes the trainers need, converted once."""

    x_train: np.ndarray
    y_train: np.ndarray
    labels_train: np.ndarray
    x_test: np.ndarray
    labels_test: np.ndarray
    x_train_float64: np.ndarray
    y_train_float64: np.ndarray


def xavier_network(configuration: Configuration, seed: int) -> FeedForwardNetwork:
    """Return a Xavier-initialised float32 ReLU project network of the configuration."""
    return FeedForwardNetwork(
        INPUT_SIZE,
        configuration.hidden_sizes,
        OUTPUT_SIZE,
        activation="relu",
        initialization="xavier",
        dtype="float32",
        rng=seed,
    )


def project_optimizer(configuration: Configuration) -> Optimizer:
    """Return this project's optimizer of the configuration with the shared betas."""
    return make_optimizer(
        configuration.optimizer,
        learning_rate=configuration.learning_rate,
        beta1=BETA1,
        beta2=BETA2,
        epsilon=EPSILON,
    )


def initial_parameters(configuration: Configuration, seed: int) -> np.ndarray:
    """Return the flat float32 parameters of a Xavier-initialised project network."""
    return xavier_network(configuration, seed).parameters.copy()


def matmul_flops_per_epoch(layer_sizes: tuple[int, ...], rows: int) -> int:
    """Count the floating-point operations of an epoch's matrix products.

    Each product of an ``(r, a)`` by an ``(a, b)`` matrix counts ``2 r a b``. A step
    runs the forward product of every layer, the weight gradient of every layer and
    the error product of every layer but the first. The count is linear in ``r``, so
    the epoch total is the per-row count times ``rows``, the last partial batch
    included.
    """
    pairs = list(zip(layer_sizes[:-1], layer_sizes[1:], strict=True))
    per_row = sum(2 * a * b for a, b in pairs) * 2
    per_row += sum(2 * a * b for a, b in pairs[1:])
    return per_row * rows


class ProjectTrainer:
    """This project's ``FeedForwardNetwork`` trained by ``mnist_fnn.fnn.train``.

    ``train`` is called with ``epochs=1`` per epoch and the same optimizer instance,
    so the optimizer state carries over. The time is the ``epoch_seconds`` that
    ``train`` records: its step loop, without data preparation or evaluation.
    """

    def __init__(
        self,
        configuration: Configuration,
        data: TrainingData,
        parameters: np.ndarray,
        *,
        dtype: str,
        batch_size: int,
        seed: int,
    ) -> None:
        self.label = f"ours {dtype}"
        self.network = FeedForwardNetwork(
            INPUT_SIZE,
            configuration.hidden_sizes,
            OUTPUT_SIZE,
            activation="relu",
            initialization="xavier",
            dtype=dtype,
            rng=seed,
        )
        np.copyto(self.network.parameters, parameters, casting="unsafe")
        self.optimizer = project_optimizer(configuration)
        if dtype == "float64":
            self.x_train, self.y_train = data.x_train_float64, data.y_train_float64
        else:
            self.x_train, self.y_train = data.x_train, data.y_train
        self.batch_size = batch_size
        self.generator = np.random.default_rng(seed)

    def train_epoch(self) -> float:
        history = train(
            self.network,
            self.x_train,
            self.y_train,
            epochs=1,
            batch_size=self.batch_size,
            optimizer=self.optimizer,
            loss="cross_entropy",
            rng=self.generator,
        )
        return history[0]["epoch_seconds"]

    def test_accuracy(self, data: TrainingData) -> float:
        predictions = self.network.predict(data.x_test)
        return float(np.mean(predictions == data.labels_test))


class NotebookTrainer:
    """A straightforward float64 network, written the way a teaching notebook does.

    Parameters live in a dict of ``W1, b1, ...`` arrays. Every step gathers the batch
    by fancy indexing, builds new arrays with plain ``@`` and arithmetic operators and
    replaces each parameter with a new array. Adam and Nadam follow their textbook
    equations term by term, with the same constant-momentum Nadam as the project.
    """

    def __init__(
        self,
        configuration: Configuration,
        data: TrainingData,
        parameters: np.ndarray,
        *,
        batch_size: int,
        seed: int,
    ) -> None:
        self.label = "notebook float64"
        self.layers = len(configuration.layer_sizes) - 1
        self.optimizer = configuration.optimizer
        self.learning_rate = configuration.learning_rate
        self.params = {}
        network = FeedForwardNetwork(
            INPUT_SIZE, configuration.hidden_sizes, OUTPUT_SIZE, dtype="float32"
        )
        np.copyto(network.parameters, parameters)
        for layer, (weights, biases) in enumerate(
            zip(network.weights, network.biases, strict=True), start=1
        ):
            self.params[f"W{layer}"] = weights.astype(np.float64)
            self.params[f"b{layer}"] = biases.astype(np.float64).reshape(1, -1)
        self.m = {key: np.zeros_like(value) for key, value in self.params.items()}
        self.v = {key: np.zeros_like(value) for key, value in self.params.items()}
        self.t = 0
        self.x_train, self.y_train = data.x_train_float64, data.y_train_float64
        self.batch_size = batch_size
        self.generator = np.random.default_rng(seed)

    def forward(self, x: np.ndarray) -> dict[str, np.ndarray]:
        cache = {"A0": x}
        for layer in range(1, self.layers + 1):
            z = (
                cache[f"A{layer - 1}"] @ self.params[f"W{layer}"]
                + self.params[f"b{layer}"]
            )
            cache[f"Z{layer}"] = z
            if layer < self.layers:
                cache[f"A{layer}"] = np.maximum(z, 0)
            else:
                exp = np.exp(z - z.max(axis=1, keepdims=True))
                cache[f"A{layer}"] = exp / exp.sum(axis=1, keepdims=True)
        return cache

    def backward(
        self, cache: dict[str, np.ndarray], y: np.ndarray
    ) -> dict[str, np.ndarray]:
        grads = {}
        dz = (cache[f"A{self.layers}"] - y) / y.shape[0]
        for layer in range(self.layers, 0, -1):
            grads[f"W{layer}"] = cache[f"A{layer - 1}"].T @ dz
            grads[f"b{layer}"] = dz.sum(axis=0, keepdims=True)
            if layer > 1:
                da = dz @ self.params[f"W{layer}"].T
                dz = da * (cache[f"Z{layer - 1}"] > 0)
        return grads

    def update(self, grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        t, lr = self.t, self.learning_rate
        for key, g in grads.items():
            self.m[key] = BETA1 * self.m[key] + (1 - BETA1) * g
            self.v[key] = BETA2 * self.v[key] + (1 - BETA2) * g**2
            m_hat = self.m[key] / (1 - BETA1**t)
            v_hat = self.v[key] / (1 - BETA2**t)
            if self.optimizer == "nadam":
                direction = BETA1 * m_hat + (1 - BETA1) * g / (1 - BETA1**t)
            else:
                direction = m_hat
            self.params[key] = self.params[key] - lr * direction / (
                np.sqrt(v_hat) + EPSILON
            )

    def train_epoch(self) -> float:
        order = self.generator.permutation(self.x_train.shape[0])
        started = time.perf_counter()
        for start in range(0, order.shape[0], self.batch_size):
            indices = order[start : start + self.batch_size]
            x, y = self.x_train[indices], self.y_train[indices]
            self.update(self.backward(self.forward(x), y))
        return time.perf_counter() - started

    def test_accuracy(self, data: TrainingData) -> float:
        probabilities = self.forward(data.x_test.astype(np.float64))[f"A{self.layers}"]
        return float(np.mean(probabilities.argmax(axis=1) == data.labels_test))


class TorchTrainer:
    """The same network in PyTorch on the CPU, float32, with ``torch.optim``.

    Adam is ``torch.optim.Adam``. Nadam is ``torch.optim.NAdam`` with the given
    ``momentum_decay``: its momentum is ``mu_t = b1 * (1 - 0.5 * 0.96^(t *
    momentum_decay))``, so ``momentum_decay=0`` gives a constant ``0.5 * b1`` and a
    large value (the default here, 1e4) gives a constant ``b1`` like the project's
    Nadam. Even then PyTorch corrects the momentum term by ``1 - b1^(t+1)`` where
    the project uses ``1 - b1^t``, so the updates still differ slightly.
    """

    def __init__(
        self,
        configuration: Configuration,
        data: TrainingData,
        parameters: np.ndarray,
        *,
        batch_size: int,
        seed: int,
        threads: int,
        nadam_momentum_decay: float,
    ) -> None:
        import torch  # noqa: PLC0415

        self.torch = torch
        self.label = "PyTorch float32"
        torch.manual_seed(seed)
        torch.set_num_threads(threads)

        network = FeedForwardNetwork(
            INPUT_SIZE, configuration.hidden_sizes, OUTPUT_SIZE, dtype="float32"
        )
        np.copyto(network.parameters, parameters)
        modules = []
        for layer, (weights, biases) in enumerate(
            zip(network.weights, network.biases, strict=True)
        ):
            linear = torch.nn.Linear(*weights.shape)
            with torch.no_grad():
                # torch.nn.Linear stores (fan_out, fan_in) and computes x @ W.T + b.
                linear.weight.copy_(torch.from_numpy(weights.T.copy()))
                linear.bias.copy_(torch.from_numpy(biases.copy()))
            modules.append(linear)
            if layer < len(network.weights) - 1:
                modules.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*modules)

        if configuration.optimizer == "nadam":
            self.optimizer = torch.optim.NAdam(
                self.model.parameters(),
                lr=configuration.learning_rate,
                betas=(BETA1, BETA2),
                eps=EPSILON,
                momentum_decay=nadam_momentum_decay,
            )
        else:
            self.optimizer = torch.optim.Adam(
                self.model.parameters(),
                lr=configuration.learning_rate,
                betas=(BETA1, BETA2),
                eps=EPSILON,
            )
        self.loss = torch.nn.CrossEntropyLoss()
        self.x_train = torch.from_numpy(data.x_train)
        self.labels_train = torch.from_numpy(data.labels_train)
        self.batch_size = batch_size
        self.generator = np.random.default_rng(seed)

    def train_epoch(self) -> float:
        torch = self.torch
        order = torch.from_numpy(self.generator.permutation(self.x_train.shape[0]))
        started = time.perf_counter()
        for start in range(0, order.shape[0], self.batch_size):
            indices = order[start : start + self.batch_size]
            x = self.x_train.index_select(0, indices)
            labels = self.labels_train.index_select(0, indices)
            self.optimizer.zero_grad()
            self.loss(self.model(x), labels).backward()
            self.optimizer.step()
        return time.perf_counter() - started

    def test_accuracy(self, data: TrainingData) -> float:
        with self.torch.no_grad():
            logits = self.model(self.torch.from_numpy(data.x_test))
        predictions = logits.argmax(dim=1).numpy()
        return float(np.mean(predictions == data.labels_test))


class MatmulBound:
    """Only the matrix products of an epoch, at the real shapes, in float32.

    Every product writes with ``out=`` into arrays allocated here, and an epoch makes
    the same calls with the same shapes and transposes as ``GradientWorkspace``:
    ``ceil(rows / batch_size)`` steps, the last one with the remaining rows.
    """

    def __init__(
        self, configuration: Configuration, rows: int, *, batch_size: int, seed: int
    ) -> None:
        self.label = "matmul bound"
        generator = np.random.default_rng(seed)
        sizes = configuration.layer_sizes
        self.rows, self.batch_size = rows, batch_size
        self.weights = [
            generator.standard_normal((a, b), dtype=np.float32)
            for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        ]
        self.gradients = [np.empty_like(weights) for weights in self.weights]
        self.activations = [
            generator.standard_normal((batch_size, width), dtype=np.float32)
            for width in sizes
        ]
        self.errors = [
            generator.standard_normal((batch_size, width), dtype=np.float32)
            for width in sizes
        ]

        # Views for the full and the last batch, built here so that the timed loop
        # makes only the products.
        self.views = {
            count: (
                [array[:count] for array in self.activations],
                [array[:count] for array in self.errors],
            )
            for count in {
                batch_size,
                rows - (math.ceil(rows / batch_size) - 1) * batch_size,
            }
        }

    def _step(self, rows: int) -> None:
        activations, errors = self.views[rows]
        layers = len(self.weights)
        for layer in range(layers):
            np.matmul(
                activations[layer], self.weights[layer], out=activations[layer + 1]
            )
        for layer in range(layers - 1, -1, -1):
            np.matmul(
                activations[layer].T, errors[layer + 1], out=self.gradients[layer]
            )
            if layer > 0:
                np.matmul(errors[layer + 1], self.weights[layer].T, out=errors[layer])

    def train_epoch(self) -> float:
        steps = math.ceil(self.rows / self.batch_size)
        started = time.perf_counter()
        for step in range(steps):
            self._step(min(self.batch_size, self.rows - step * self.batch_size))
        return time.perf_counter() - started

    def test_accuracy(self, data: TrainingData) -> float | None:
        return None


class MatmulOptimizerFloor(MatmulBound):
    """The products of ``MatmulBound`` followed by this project's optimizer step.

    The weights are views into the flat float32 ``parameters`` buffer of a
    Xavier-initialised ``FeedForwardNetwork``, and the products write the weight
    gradients into views of a flat ``flat_gradients`` buffer with the same layout.
    After the products of a step, ``optimizer.step(parameters, flat_gradients,
    weight_count)`` updates the whole buffer as ``train`` does. Nothing else runs: no
    bias addition, activation, softmax, loss or batch gathering. The bias entries of
    ``flat_gradients`` keep the small random values they start with, so the optimizer
    works on finite, nonzero numbers everywhere. The input activations and output
    errors are the same random arrays as in ``MatmulBound`` with the same seed.

    Without activations the products form a deep linear network, and the optimizer
    keeps growing its weights along a fixed direction. Without a reset, Rec_2's
    weight gradients reached about 8e16 after 6 epochs in one run, which puts the
    optimizer's running sum of squared gradients within a factor of 100 of the
    float32 maximum. ``train_epoch`` therefore copies the initial parameters back
    before each epoch, outside the timed loop, while the optimizer state carries over.
    """

    def __init__(
        self, configuration: Configuration, rows: int, *, batch_size: int, seed: int
    ) -> None:
        super().__init__(configuration, rows, batch_size=batch_size, seed=seed)
        self.label = "matmul + optimizer"
        self.network = xavier_network(configuration, seed)
        self.parameters = self.network.parameters
        self.starting_parameters = self.parameters.copy()
        self.weights = self.network.weights

        generator = np.random.default_rng(seed)
        self.flat_gradients = generator.standard_normal(
            self.parameters.shape[0], dtype=np.float32
        )
        self.flat_gradients *= np.float32(1e-3)
        self.gradients = split_parameters(
            self.flat_gradients, configuration.layer_sizes
        )[0]

        self.optimizer = project_optimizer(configuration)

    def train_epoch(self) -> float:
        np.copyto(self.parameters, self.starting_parameters)
        parameters, gradients = self.parameters, self.flat_gradients
        weight_count = self.network.weight_count
        steps = math.ceil(self.rows / self.batch_size)
        started = time.perf_counter()
        for step in range(steps):
            self._step(min(self.batch_size, self.rows - step * self.batch_size))
            self.optimizer.step(parameters, gradients, weight_count)
        return time.perf_counter() - started


def build_trainers(
    configuration: Configuration,
    data: TrainingData,
    arguments: argparse.Namespace,
    torch_available: bool,
    *,
    seed: int,
    implementations: list[str],
) -> list:
    """Return one trainer per implementation name, all starting from ``seed``.

    ``torch`` is left out unless ``torch_available``. Batch size, thread count and
    PyTorch's Nadam setting come from ``arguments``.
    """
    parameters = initial_parameters(configuration, seed)
    common = {"batch_size": arguments.batch_size, "seed": seed}
    trainers = []
    for name in implementations:
        if name in ("ours_float32", "ours_float64"):
            dtype = name.removeprefix("ours_")
            trainers.append(
                ProjectTrainer(configuration, data, parameters, dtype=dtype, **common)
            )
        elif name == "notebook":
            trainers.append(NotebookTrainer(configuration, data, parameters, **common))
        elif name == "torch" and torch_available:
            trainers.append(
                TorchTrainer(
                    configuration,
                    data,
                    parameters,
                    threads=arguments.threads,
                    nadam_momentum_decay=arguments.torch_nadam_momentum_decay,
                    **common,
                )
            )
        elif name == "floor":
            trainers.append(
                MatmulOptimizerFloor(configuration, data.x_train.shape[0], **common)
            )
        elif name == "bound":
            trainers.append(MatmulBound(configuration, data.x_train.shape[0], **common))
    return trainers
