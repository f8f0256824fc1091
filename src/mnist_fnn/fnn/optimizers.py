"""Gradient-descent optimizers that update one flat parameter array in place.

Every optimizer works on the network's flat parameter buffer and the matching flat
gradient buffer. The weights come first in both buffers, so L2 weight decay touches
only a leading slice and the biases are never decayed. State arrays are allocated on
the first step, and later steps allocate no arrays.

Values that decay towards zero in the state arrays (momentum of a weight whose input
pixel is almost always 0, for example) would otherwise reach the subnormal range, where
x86 floating-point arithmetic is many times slower. Every ``FLUSH_INTERVAL`` steps,
state entries with magnitude below ``FLUSH_THRESHOLD`` times the dtype's smallest
normal number are set to exactly 0. With a decay of 0.9 per step, an entry above the
threshold stays normal until the next flush.

Symbols used in the class docstrings: ``theta`` parameters, ``g`` the gradient
including weight decay, ``lr`` learning rate, ``b1`` beta1, ``b2`` beta2, ``eps``
epsilon, ``lambda`` weight decay, ``t`` the step count starting at 1.
"""

import abc
import math
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import numpy as np

from mnist_fnn.fnn._names import normalize_name, resolve_name

FLUSH_INTERVAL = 64
"""Steps between two flushes of near-subnormal optimizer state to zero."""

FLUSH_THRESHOLD = 2.0**20
"""State entries below this multiple of ``np.finfo(dtype).tiny`` are flushed to 0.

In float32 this is about 1.2e-32, far below any value that changes an update.
"""

OPTIMIZERS: dict[str, type["Optimizer"]] = {}
"""Optimizer classes by canonical name, filled by ``register_optimizer``."""

OPTIMIZER_ALIASES: dict[str, str] = {}
"""Map from normalised alias to canonical optimizer name."""


def _is_real_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(
        value, int | float | np.integer | np.floating
    )


def _check_beta(label: str, value: object) -> float:
    if not _is_real_number(value) or not 0 <= value < 1:
        raise ValueError(f"Invalid {label}: {value!r}. {label} must be in [0, 1).")
    return float(value)


class Optimizer(abc.ABC):
    """Base class: hyperparameter validation, weight decay and state bookkeeping.

    Every optimizer accepts the same hyperparameters and validates all of them, even
    those its update rule does not use.

    Args:
        learning_rate: Step size ``lr``, a positive finite number.
        beta1: Decay of the first-moment (momentum) average, in ``[0, 1)``.
        beta2: Decay of the squared-gradient average, in ``[0, 1)``.
        epsilon: Positive constant added to the denominator of adaptive steps.
        weight_decay: L2 coefficient ``lambda >= 0``. The gradient of each weight
            ``W`` becomes ``g = grad + lambda * W``, and biases are not decayed.

    Raises:
        ValueError: If a hyperparameter is invalid. The message names the value.
    """

    name: ClassVar[str] = ""

    def __init__(
        self,
        *,
        learning_rate: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        if (
            not _is_real_number(learning_rate)
            or not math.isfinite(learning_rate)
            or learning_rate <= 0
        ):
            raise ValueError(
                f"Invalid learning rate: {learning_rate!r}. "
                "The learning rate must be a positive finite number."
            )
        if not _is_real_number(epsilon) or not math.isfinite(epsilon) or epsilon <= 0:
            raise ValueError(
                f"Invalid epsilon: {epsilon!r}. epsilon must be a positive finite number."
            )
        if (
            not _is_real_number(weight_decay)
            or not math.isfinite(weight_decay)
            or weight_decay < 0
        ):
            raise ValueError(
                f"Invalid weight decay: {weight_decay!r}. "
                "The weight decay must be a finite number >= 0."
            )

        self.learning_rate = float(learning_rate)
        self.beta1 = _check_beta("beta1", beta1)
        self.beta2 = _check_beta("beta2", beta2)
        self.epsilon = float(epsilon)
        self.weight_decay = float(weight_decay)
        self.step_count = 0
        self._size: int | None = None
        self._scratch: np.ndarray | None = None

    def config(self) -> dict[str, Any]:
        """Return the optimizer name and hyperparameters as a JSON-serialisable dict."""
        return {
            "optimizer": self.name,
            "learning_rate": self.learning_rate,
            "beta1": self.beta1,
            "beta2": self.beta2,
            "epsilon": self.epsilon,
            "weight_decay": self.weight_decay,
        }

    def reset(self) -> None:
        """Drop the state so the next step starts again at ``t = 1``."""
        self.step_count = 0
        self._size = None
        self._scratch = None

    def step(
        self,
        parameters: np.ndarray,
        gradients: np.ndarray,
        decay_size: int | None = None,
    ) -> None:
        """Apply one update to ``parameters`` in place.

        Args:
            parameters: Flat 1-D float array, updated in place.
            gradients: Flat array of the same shape and dtype. When weight decay is
                positive, its first ``decay_size`` entries are overwritten with the
                decayed gradient.
            decay_size: Number of leading entries that receive weight decay (the
                weights). ``None`` decays every entry.

        Raises:
            ValueError: If the arrays differ in shape or dtype, are not 1-D, or differ
                from the arrays of earlier steps.
        """
        if self._size is None:
            self._allocate_state(parameters, gradients)
        elif parameters.shape != (self._size,) or parameters.dtype != self._dtype:
            raise ValueError(
                f"{type(self).__name__} has state for {self._size} {self._dtype} "
                f"parameters but got {parameters.shape} {parameters.dtype}. "
                "Call reset() before using the optimizer on another network."
            )
        self.step_count += 1

        if self.weight_decay > 0:
            decayed = slice(None, decay_size)
            scratch = self._scratch[decayed]
            np.multiply(parameters[decayed], self._cast(self.weight_decay), out=scratch)
            np.add(gradients[decayed], scratch, out=gradients[decayed])

        self._update(parameters, gradients)

        if self.step_count % FLUSH_INTERVAL == 0:
            self._flush_state()

    def _flush_state(self) -> None:
        threshold = self._cast(np.finfo(self._dtype).tiny * FLUSH_THRESHOLD)
        for state in self._decaying_state:
            np.abs(state, out=self._scratch)
            np.less(self._scratch, threshold, out=self._flush_mask)
            np.putmask(state, self._flush_mask, 0)

    def _allocate_state(self, parameters: np.ndarray, gradients: np.ndarray) -> None:
        if parameters.ndim != 1 or gradients.shape != parameters.shape:
            raise ValueError(
                "Optimizer.step expects 1-D parameter and gradient arrays of equal "
                f"shape, got {parameters.shape} and {gradients.shape}."
            )
        if gradients.dtype != parameters.dtype:
            raise ValueError(
                f"Gradient dtype {gradients.dtype} differs from parameter dtype "
                f"{parameters.dtype}."
            )
        self._size = parameters.shape[0]
        self._dtype = parameters.dtype
        self._cast = parameters.dtype.type
        self._scratch = np.empty_like(parameters)
        self._flush_mask = np.empty(parameters.shape, dtype=bool)
        self._decaying_state = self._allocate(parameters)

    def _allocate(self, parameters: np.ndarray) -> list[np.ndarray]:
        """Create the optimizer's state arrays, once, before the first step.

        Returns:
            The state arrays that decay geometrically, to be flushed periodically.
        """
        return []

    @abc.abstractmethod
    def _update(self, parameters: np.ndarray, gradients: np.ndarray) -> None:
        """Apply the update rule, with ``self.step_count`` already equal to ``t``."""


def register_optimizer(
    name: str, *, aliases: Iterable[str] = ()
) -> Callable[[type[Optimizer]], type[Optimizer]]:
    """Return a class decorator that adds an optimizer to ``OPTIMIZERS``.

    Args:
        name: Canonical name, stored normalised (lower case, underscores).
        aliases: Other names that select the same optimizer.

    Returns:
        The decorator, which sets ``cls.name`` and returns the class unchanged.

    Raises:
        ValueError: If the name or an alias is already registered.
    """
    canonical = normalize_name(name)
    alias_keys = [normalize_name(alias) for alias in aliases]

    def decorator(cls: type[Optimizer]) -> type[Optimizer]:
        for key in (canonical, *alias_keys):
            if key in OPTIMIZERS or key in OPTIMIZER_ALIASES:
                raise ValueError(f"Optimizer name {key!r} is already registered.")
        cls.name = canonical
        OPTIMIZERS[canonical] = cls
        for alias in alias_keys:
            OPTIMIZER_ALIASES[alias] = canonical
        return cls

    return decorator


def resolve_optimizer(name: object) -> str:
    """Return the canonical optimizer name for a case-insensitive name or alias.

    Raises:
        ValueError: If the name is unknown. The message lists the valid names.
    """
    return resolve_name("optimizer", "optimizers", name, OPTIMIZERS, OPTIMIZER_ALIASES)


def make_optimizer(
    name: str,
    *,
    learning_rate: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    epsilon: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float | None = None,
) -> Optimizer:
    """Create an optimizer from its name.

    Args:
        name: Case-insensitive name or alias, for example ``"adam"`` or ``"nag"``.
        learning_rate: Step size, a positive finite number.
        beta1: Decay of the first-moment (momentum) average, in ``[0, 1)``.
        beta2: Decay of the squared-gradient average, in ``[0, 1)``.
        epsilon: Positive constant in the denominator of adaptive steps.
        weight_decay: L2 coefficient for the weights, ``>= 0``.
        momentum: Another name for ``beta1``. When given, it replaces ``beta1``.

    Returns:
        The optimizer, with no state yet.

    Raises:
        ValueError: If the name is unknown or a hyperparameter is invalid.
    """
    cls = OPTIMIZERS[resolve_optimizer(name)]
    if momentum is not None:
        beta1 = momentum
    return cls(
        learning_rate=learning_rate,
        beta1=beta1,
        beta2=beta2,
        epsilon=epsilon,
        weight_decay=weight_decay,
    )


@register_optimizer("sgd", aliases=("gradient_descent",))
class SGD(Optimizer):
    """Plain stochastic gradient descent.

    For each step ``t``:

    1. ``g = grad + lambda * theta`` (weights only)
    2. ``theta = theta - lr * g``

    Uses only ``learning_rate`` (``train`` defaults it to 0.001) and ``weight_decay``
    (default 0). Matches ``torch.optim.SGD`` with ``momentum=0`` (PyTorch 2.13).
    """

    def _update(self, parameters: np.ndarray, gradients: np.ndarray) -> None:
        np.multiply(gradients, self._cast(self.learning_rate), out=self._scratch)
        np.subtract(parameters, self._scratch, out=parameters)


@register_optimizer("momentum", aliases=("sgd_momentum",))
class Momentum(Optimizer):
    """Gradient descent with an exponential moving average of the gradients.

    With ``v_0 = 0``, for each step ``t``:

    1. ``g = grad + lambda * theta`` (weights only)
    2. ``v_t = b1 * v_{t-1} + (1 - b1) * g``
    3. ``theta = theta - lr * v_t``

    ``b1`` is ``beta1`` (default 0.9), which ``make_optimizer`` also takes as
    ``momentum``. ``torch.optim.SGD(momentum=b1)`` (PyTorch 2.13) instead
    accumulates ``v_t = b1 * v_{t-1} + g``. Its steps are therefore about
    ``1 / (1 - b1)`` times larger once the average settles, so this class needs a
    learning rate that much larger for the same step size. PyTorch's
    ``dampening=b1`` gives this average except on the first step, where PyTorch sets
    ``v_1 = g``.
    """

    def _allocate(self, parameters: np.ndarray) -> list[np.ndarray]:
        self._velocity = np.zeros_like(parameters)
        return [self._velocity]

    def _update(self, parameters: np.ndarray, gradients: np.ndarray) -> None:
        velocity, scratch, cast = self._velocity, self._scratch, self._cast

        np.multiply(velocity, cast(self.beta1), out=velocity)
        np.multiply(gradients, cast(1 - self.beta1), out=scratch)
        np.add(velocity, scratch, out=velocity)

        np.multiply(velocity, cast(self.learning_rate), out=scratch)
        np.subtract(parameters, scratch, out=parameters)


@register_optimizer("nesterov", aliases=("nag",))
class Nesterov(Optimizer):
    """Nesterov accelerated gradient in the reformulated form of Bengio et al. (2013).

    The gradient is taken at the current parameters instead of a look-ahead point.
    With ``v_0 = 0``, for each step ``t``:

    1. ``g = grad + lambda * theta`` (weights only)
    2. ``v_t = b1 * v_{t-1} - lr * g``
    3. ``theta = theta - b1 * v_{t-1} + (1 + b1) * v_t``

    Step 3 equals ``theta + b1 * v_t - lr * g``, which is how it is computed.
    ``b1`` is ``beta1`` (default 0.9). ``torch.optim.SGD(momentum=b1,
    nesterov=True)`` (PyTorch 2.13) keeps ``u_t = b1 * u_{t-1} + g`` and steps
    ``theta - lr * (g + b1 * u_t)``. With a constant learning rate ``u_t`` equals
    ``-v_t / lr`` and both give the same parameters. They differ when the learning
    rate changes between steps, because PyTorch's buffer does not contain it.
    """

    def _allocate(self, parameters: np.ndarray) -> list[np.ndarray]:
        self._velocity = np.zeros_like(parameters)
        return [self._velocity]

    def _update(self, parameters: np.ndarray, gradients: np.ndarray) -> None:
        velocity, scratch, cast = self._velocity, self._scratch, self._cast

        np.multiply(velocity, cast(self.beta1), out=velocity)
        np.multiply(gradients, cast(self.learning_rate), out=scratch)
        np.subtract(velocity, scratch, out=velocity)

        np.subtract(parameters, scratch, out=parameters)
        np.multiply(velocity, cast(self.beta1), out=scratch)
        np.add(parameters, scratch, out=parameters)


@register_optimizer("rmsprop")
class RMSprop(Optimizer):
    """RMSprop (Tieleman and Hinton, 2012): steps scaled by the RMS of recent gradients.

    With ``s_0 = 0``, for each step ``t``:

    1. ``g = grad + lambda * theta`` (weights only)
    2. ``s_t = b2 * s_{t-1} + (1 - b2) * g^2``
    3. ``theta = theta - lr * g / (sqrt(s_t) + eps)``

    ``b2`` is ``beta2`` (default 0.999) and ``eps`` is ``epsilon`` (default 1e-8).
    ``torch.optim.RMSprop`` (PyTorch 2.13) names the decay ``alpha`` with default
    0.99. With its defaults ``momentum=0`` and ``centered=False`` it applies the
    same rule. This class has neither option.
    """

    def _allocate(self, parameters: np.ndarray) -> list[np.ndarray]:
        self._square_average = np.zeros_like(parameters)
        return [self._square_average]

    def _update(self, parameters: np.ndarray, gradients: np.ndarray) -> None:
        square_average, scratch, cast = self._square_average, self._scratch, self._cast

        np.multiply(square_average, cast(self.beta2), out=square_average)
        np.square(gradients, out=scratch)
        np.multiply(scratch, cast(1 - self.beta2), out=scratch)
        np.add(square_average, scratch, out=square_average)

        np.sqrt(square_average, out=scratch)
        np.add(scratch, cast(self.epsilon), out=scratch)
        np.divide(gradients, scratch, out=scratch)
        np.multiply(scratch, cast(self.learning_rate), out=scratch)
        np.subtract(parameters, scratch, out=parameters)


@register_optimizer("adam")
class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015).

    With ``m_0 = v_0 = 0``, for each step ``t``:

    1. ``g = grad + lambda * theta`` (weights only)
    2. ``m_t = b1 * m_{t-1} + (1 - b1) * g``
    3. ``v_t = b2 * v_{t-1} + (1 - b2) * g^2``
    4. ``m_hat = m_t / (1 - b1^t)`` and ``v_hat = v_t / (1 - b2^t)``
    5. ``theta = theta - lr * m_hat / (sqrt(v_hat) + eps)``

    Defaults: ``b1 = 0.9``, ``b2 = 0.999``, ``eps = 1e-8``. The state arrays store
    ``M = m / (1 - b1)`` and ``V = v / (1 - b2)``, so steps 2 and 3 become
    ``M_t = b1 * M_{t-1} + g`` and ``V_t = b2 * V_{t-1} + g^2``. Step 5 is then
    computed as ``theta - s_t * M_t / (sqrt(V_t) + e_t)`` with
    ``s_t = lr * (1 - b1) * sqrt(1 - b2^t) / ((1 - b1^t) * sqrt(1 - b2))`` and
    ``e_t = eps * sqrt(1 - b2^t) / sqrt(1 - b2)``. This is algebraically equal to
    steps 2 to 5 (``eps`` keeps its place outside the square root) and takes 10
    elementwise passes over the parameters, two fewer than with unscaled state.
    Matches ``torch.optim.Adam`` with ``amsgrad=False`` (PyTorch 2.13). PyTorch's
    ``weight_decay`` adds the same L2 term but to biases too.
    """

    def _allocate(self, parameters: np.ndarray) -> list[np.ndarray]:
        self._first_moment = np.zeros_like(parameters)
        self._second_moment = np.zeros_like(parameters)
        return [self._first_moment, self._second_moment]

    def _update_moments(self, gradients: np.ndarray) -> tuple[float, float]:
        """Advance ``M`` and ``V`` by one step.

        Returns:
            ``s_t`` and ``e_t``, the step size and denominator constant of step 5.
        """
        first, second = self._first_moment, self._second_moment
        scratch, cast = self._scratch, self._cast

        np.multiply(first, cast(self.beta1), out=first)
        np.add(first, gradients, out=first)

        np.multiply(second, cast(self.beta2), out=second)
        np.square(gradients, out=scratch)
        np.add(second, scratch, out=second)

        t = self.step_count
        root_second_correction = math.sqrt(1 - self.beta2**t)
        root_second_scale = math.sqrt(1 - self.beta2)
        step_size = (
            self.learning_rate
            * (1 - self.beta1)
            * root_second_correction
            / ((1 - self.beta1**t) * root_second_scale)
        )
        epsilon = self.epsilon * root_second_correction / root_second_scale
        return step_size, epsilon

    def _apply_step(
        self,
        parameters: np.ndarray,
        direction: np.ndarray,
        step_size: float,
        epsilon: float,
    ) -> None:
        """Subtract ``step_size * direction / (sqrt(V) + epsilon)`` from the parameters."""
        scratch, cast = self._scratch, self._cast

        np.sqrt(self._second_moment, out=scratch)
        np.add(scratch, cast(epsilon), out=scratch)
        np.divide(direction, scratch, out=scratch)
        np.multiply(scratch, cast(step_size), out=scratch)
        np.subtract(parameters, scratch, out=parameters)

    def _update(self, parameters: np.ndarray, gradients: np.ndarray) -> None:
        step_size, epsilon = self._update_moments(gradients)
        self._apply_step(parameters, self._first_moment, step_size, epsilon)


@register_optimizer("nadam")
class Nadam(Adam):
    """Nadam: Adam with a Nesterov look-ahead (Dozat, 2016), constant momentum.

    With ``m_0 = v_0 = 0``, for each step ``t``:

    1. ``g = grad + lambda * theta`` (weights only)
    2. ``m_t = b1 * m_{t-1} + (1 - b1) * g``
    3. ``v_t = b2 * v_{t-1} + (1 - b2) * g^2``
    4. ``m_hat = m_t / (1 - b1^t)`` and ``v_hat = v_t / (1 - b2^t)``
    5. ``theta = theta - lr * (b1 * m_hat + (1 - b1) * g / (1 - b1^t)) /
       (sqrt(v_hat) + eps)``

    Defaults: ``b1 = 0.9``, ``b2 = 0.999``, ``eps = 1e-8``. With the scaled state
    ``M`` and ``V`` of ``Adam``, the numerator of step 5 equals
    ``(1 - b1) / (1 - b1^t) * (b1 * M_t + g)``, so step 5 is computed as
    ``theta - s_t * (b1 * M_t + g) / (sqrt(V_t) + e_t)`` with Adam's ``s_t`` and
    ``e_t``, in 12 elementwise passes over the parameters. ``torch.optim.NAdam``
    (PyTorch 2.13) replaces ``b1`` by the schedule
    ``mu_t = b1 * (1 - 0.5 * 0.96^(0.004 t))`` (``momentum_decay=0.004``). It also
    corrects with products of the ``mu`` terms and ``mu_{t+1}`` instead of
    ``1 - b1^t``, so its updates differ from these.
    """

    def _allocate(self, parameters: np.ndarray) -> list[np.ndarray]:
        self._numerator = np.empty_like(parameters)
        return super()._allocate(parameters)

    def _update(self, parameters: np.ndarray, gradients: np.ndarray) -> None:
        step_size, epsilon = self._update_moments(gradients)

        numerator = self._numerator
        np.multiply(self._first_moment, self._cast(self.beta1), out=numerator)
        np.add(numerator, gradients, out=numerator)

        self._apply_step(parameters, numerator, step_size, epsilon)
