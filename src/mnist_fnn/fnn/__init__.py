"""A feed-forward neural network in NumPy: layers, losses, optimizers, training.

The package depends on NumPy only. Backpropagation is written out by hand, all
parameters live in one flat buffer, and training steps allocate no arrays.
"""

from mnist_fnn.fnn.activations import (
    ACTIVATION_ALIASES,
    ACTIVATIONS,
    Activation,
    make_activation,
    resolve_activation,
    softmax,
)
from mnist_fnn.fnn.backpropagation import GradientWorkspace
from mnist_fnn.fnn.initializers import (
    INITIALIZER_ALIASES,
    INITIALIZERS,
    resolve_initializer,
)
from mnist_fnn.fnn.losses import LOSS_ALIASES, LOSSES, Loss, resolve_loss
from mnist_fnn.fnn.network import DTYPES, FeedForwardNetwork
from mnist_fnn.fnn.optimizers import (
    OPTIMIZER_ALIASES,
    OPTIMIZERS,
    Optimizer,
    make_optimizer,
    register_optimizer,
    resolve_optimizer,
)
from mnist_fnn.fnn.serialization import FORMAT_VERSION, load_network, save_network
from mnist_fnn.fnn.training import TrainingDivergedError, train

__all__ = [
    "ACTIVATIONS",
    "ACTIVATION_ALIASES",
    "DTYPES",
    "FORMAT_VERSION",
    "INITIALIZERS",
    "INITIALIZER_ALIASES",
    "LOSSES",
    "LOSS_ALIASES",
    "OPTIMIZERS",
    "OPTIMIZER_ALIASES",
    "Activation",
    "FeedForwardNetwork",
    "GradientWorkspace",
    "Loss",
    "Optimizer",
    "TrainingDivergedError",
    "load_network",
    "make_activation",
    "make_optimizer",
    "register_optimizer",
    "resolve_activation",
    "resolve_initializer",
    "resolve_loss",
    "resolve_optimizer",
    "save_network",
    "softmax",
    "train",
]
