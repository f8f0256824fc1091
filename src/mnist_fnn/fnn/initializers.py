"""Weight initialisations, each filling a ``(fan_in, fan_out)`` array in place."""

from collections.abc import Callable

import numpy as np

from mnist_fnn.fnn._names import resolve_name

RANDOM_NORMAL_STD = 0.01
"""Standard deviation of the ``random`` initialisation."""


def xavier_uniform(weights: np.ndarray, rng: np.random.Generator) -> None:
    """Fill weights from the Glorot uniform distribution.

    Values are drawn from ``U(-limit, limit)`` with
    ``limit = sqrt(6 / (fan_in + fan_out))`` (Glorot and Bengio, 2010), which keeps
    the activation variance roughly equal across layers.

    Args:
        weights: Array of shape ``(fan_in, fan_out)``, float32 or float64, overwritten.
        rng: Source of the random numbers.
    """
    fan_in, fan_out = weights.shape
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    dtype = weights.dtype.type

    # U[0, 1) scaled to [-limit, limit) in place, without a float64 temporary.
    rng.random(out=weights, dtype=weights.dtype)
    np.multiply(weights, dtype(2 * limit), out=weights)
    np.subtract(weights, dtype(limit), out=weights)


def random_normal(weights: np.ndarray, rng: np.random.Generator) -> None:
    """Fill weights from a normal distribution with mean 0 and std ``RANDOM_NORMAL_STD``.

    Args:
        weights: Array of shape ``(fan_in, fan_out)``, float32 or float64, overwritten.
        rng: Source of the random numbers.
    """
    rng.standard_normal(out=weights, dtype=weights.dtype)
    np.multiply(weights, weights.dtype.type(RANDOM_NORMAL_STD), out=weights)


INITIALIZERS: dict[str, Callable[[np.ndarray, np.random.Generator], None]] = {
    "xavier": xavier_uniform,
    "random": random_normal,
}
"""Weight initialisation functions by canonical name. Biases always start at zero."""

INITIALIZER_ALIASES: dict[str, str] = {
    "glorot": "xavier",
    "glorot_uniform": "xavier",
    "xavier_uniform": "xavier",
    "normal": "random",
    "random_normal": "random",
}
"""Map from normalised alias to canonical initialisation name."""


def resolve_initializer(name: object) -> str:
    """Return the canonical initialisation name for a case-insensitive name or alias.

    Raises:
        ValueError: If the name is unknown. The message lists the valid names.
    """
    return resolve_name(
        "initialization", "initializations", name, INITIALIZERS, INITIALIZER_ALIASES
    )
