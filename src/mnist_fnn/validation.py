"""Checks of the training and data_processing parameters, listing every problem.

The train and split nodes run these checks on their own inputs, and
``mnist_fnn.safety_hooks.SafetyHooks`` runs them on every configuration of a run
before the first node starts. Both use the validators of ``mnist_fnn.fnn``,
``mnist_fnn.blas_threads`` and the data_processing nodes, so a value the hook
accepts is one the nodes accept.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mnist_fnn.blas_threads import check_blas_threads
from mnist_fnn.fnn import (
    make_optimizer,
    resolve_activation,
    resolve_initializer,
    resolve_loss,
    resolve_optimizer,
)
from mnist_fnn.fnn.activations import check_leaky_relu_slope
from mnist_fnn.fnn.network import _check_hidden_sizes, resolve_dtype
from mnist_fnn.fnn.training import _check_count
from mnist_fnn.pipelines.data_processing.nodes import (
    check_num_classes,
    check_split_seed,
    check_validation_fraction,
    count_validation_rows,
)

TRAINING_KEY = "training"
CONFIGURATIONS_KEY = "configurations"
DATA_PROCESSING_KEY = "data_processing"

# Settings a configuration must have after the merge over `training`. The others
# have defaults in mnist_fnn.fnn, except blas_threads, whose absence leaves the BLAS
# thread count as it is.
REQUIRED_SETTINGS = (
    "hidden_sizes",
    "epochs",
    "batch_size",
    "optimizer",
    "learning_rate",
    "seed",
)
OPTIONAL_SETTINGS = (
    "activation",
    "leaky_relu_slope",
    "initialization",
    "loss",
    "beta1",
    "beta2",
    "epsilon",
    "weight_decay",
    "dtype",
    "blas_threads",
)
KNOWN_SETTINGS = REQUIRED_SETTINGS + OPTIONAL_SETTINGS

# A configuration name becomes a Kedro namespace and a folder name under data/, so
# it takes the characters that are safe in both.
CONFIGURATION_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ParameterError(ValueError):
    """One or more parameters are invalid.

    Attributes:
        problems: One line per invalid value, ``"<parameter key>: <what is wrong>"``.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(dict.fromkeys(problems))
        listed = "\n".join(f"- {problem}" for problem in self.problems)
        super().__init__(
            f"Invalid parameters:\n{listed}\nFix them in conf/base/parameters_*.yml "
            "or in the --params option, then run again."
        )


def raise_for_problems(problems: Iterable[str]) -> None:
    """Raise ``ParameterError`` listing ``problems``, if there are any."""
    problems = list(problems)
    if problems:
        raise ParameterError(problems)


def _message(check: Callable[[Any], object], value: Any) -> str | None:
    """Return the message of the ``ValueError`` ``check(value)`` raises, or None."""
    try:
        check(value)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


def _optimizer_check(hyperparameter: str) -> Callable[[Any], object]:
    # Each hyperparameter is checked alone, with valid values for the others, so
    # every invalid one is reported and not only the first.
    def check(value: Any) -> object:
        return make_optimizer("sgd", **{"learning_rate": 0.1, hyperparameter: value})

    return check


# The validator of each setting, the same function the network code calls.
_SETTING_CHECKS: dict[str, Callable[[Any], object]] = {
    "hidden_sizes": _check_hidden_sizes,
    "epochs": lambda value: _check_count("epochs", value),
    "batch_size": lambda value: _check_count("batch_size", value),
    "optimizer": resolve_optimizer,
    "learning_rate": _optimizer_check("learning_rate"),
    "beta1": _optimizer_check("beta1"),
    "beta2": _optimizer_check("beta2"),
    "epsilon": _optimizer_check("epsilon"),
    "weight_decay": _optimizer_check("weight_decay"),
    "activation": resolve_activation,
    "leaky_relu_slope": check_leaky_relu_slope,
    "initialization": resolve_initializer,
    "loss": resolve_loss,
    "dtype": resolve_dtype,
    # np.random.default_rng also takes sequences and None, which would make the run
    # differ from the recorded seed or impossible to repeat.
    "seed": check_split_seed,
    "blas_threads": check_blas_threads,
}


def check_training_settings(
    defaults: Mapping[str, Any],
    configuration: Mapping[str, Any],
    *,
    configuration_key: str = "configuration",
    training_rows: int | None = None,
    training_rows_source: str = "x_train",
) -> list[str]:
    """List the problems of one configuration merged over the shared settings.

    Args:
        defaults: The ``training`` parameters.
        configuration: The configuration's own settings, which win over
            ``defaults``.
        configuration_key: Parameter key of ``configuration`` in messages, such
            as ``configurations.Rec_1_Balanced_Adam``.
        training_rows: Number of training images, when known, to check that
            ``batch_size`` does not exceed it.
        training_rows_source: Where ``training_rows`` comes from, for messages.

    Returns:
        One line per problem, each starting with the parameter key. Empty when
        the configuration is valid.
    """
    if not isinstance(defaults, Mapping):
        return [f"{TRAINING_KEY}: must be a mapping of settings, got {defaults!r}"]
    if not isinstance(configuration, Mapping):
        return [
            f"{configuration_key}: must be a mapping of settings such as "
            f"hidden_sizes and optimizer, got {configuration!r}"
        ]

    def key_of(setting: str) -> str:
        owner = configuration_key if setting in configuration else TRAINING_KEY
        return f"{owner}.{setting}"

    settings = {**defaults, **configuration}
    problems = []
    for setting in REQUIRED_SETTINGS:
        if setting not in settings:
            problems.append(
                f"{configuration_key}.{setting}: missing. Set it under "
                f"{configuration_key} or under {TRAINING_KEY} for every "
                "configuration."
            )

    for setting, value in settings.items():
        check = _SETTING_CHECKS.get(setting)
        if check is None:
            problems.append(_unknown_setting(key_of(setting), setting))
            continue
        message = _message(check, value)
        if message is not None:
            problems.append(f"{key_of(setting)}: {message}")

    batch_size = settings.get("batch_size")
    if (
        training_rows is not None
        and "batch_size" in settings
        and _message(_SETTING_CHECKS["batch_size"], batch_size) is None
        and batch_size > training_rows
    ):
        problems.append(
            f"{key_of('batch_size')}: {batch_size:,} is larger than the "
            f"{training_rows:,} training images ({training_rows_source}). Use at "
            f"most {training_rows:,}."
        )
    return problems


def check_shared_settings(defaults: Mapping[str, Any]) -> list[str]:
    """List the invalid values among the shared ``training`` settings.

    Settings that are absent are not reported here, because a configuration may
    set them itself.
    """
    if not isinstance(defaults, Mapping):
        return [f"{TRAINING_KEY}: must be a mapping of settings, got {defaults!r}"]
    problems = []
    for setting, value in defaults.items():
        key = f"{TRAINING_KEY}.{setting}"
        check = _SETTING_CHECKS.get(setting)
        if check is None:
            problems.append(_unknown_setting(key, setting))
            continue
        message = _message(check, value)
        if message is not None:
            problems.append(f"{key}: {message}")
    return problems


def _unknown_setting(key: str, setting: str) -> str:
    message = f"{key}: unknown setting '{setting}'."
    close = difflib.get_close_matches(setting, KNOWN_SETTINGS, n=1)
    if close:
        return f"{message} Did you mean '{close[0]}'?"
    return f"{message} Valid settings: {', '.join(sorted(KNOWN_SETTINGS))}."


def check_configuration_names(names: Iterable[str]) -> list[str]:
    """List names that are not usable as namespaces or that clash by case.

    Configuration names become folder names under ``data/``, and on
    case-insensitive file systems (the macOS and Windows defaults) two names that
    differ only in case would share one folder.
    """
    problems = []
    by_folded_name: dict[str, str] = {}
    for name in names:
        key = f"{CONFIGURATIONS_KEY}.{name}"
        if not CONFIGURATION_NAME_PATTERN.fullmatch(str(name)):
            problems.append(
                f"{key}: invalid configuration name {name!r}. Use letters, digits "
                "and underscores, starting with a letter or underscore."
            )
        other = by_folded_name.setdefault(str(name).casefold(), str(name))
        if other != name:
            problems.append(
                f"{key}: the name differs from configuration {other!r} only in "
                "case, so both would write to one folder on case-insensitive file "
                "systems. Rename one of them."
            )
    return problems


def check_data_processing(parameters: object) -> list[str]:
    """List the problems of the ``data_processing`` parameters."""
    if not isinstance(parameters, Mapping):
        return [f"{DATA_PROCESSING_KEY}: must be a mapping, got {parameters!r}"]

    problems = []
    checks = {
        "num_classes": check_num_classes,
        "validation_fraction": check_validation_fraction,
        "seed": check_split_seed,
    }
    for setting, check in checks.items():
        key = f"{DATA_PROCESSING_KEY}.{setting}"
        if setting not in parameters:
            if setting != "validation_fraction":
                problems.append(
                    f"{key}: missing. Set it in parameters_data_processing.yml."
                )
            continue
        message = _message(check, parameters[setting])
        if message is not None:
            problems.append(f"{key}: {message}")
    return problems


def training_rows_after_split(rows: int, validation_fraction: object) -> int | None:
    """Return how many of ``rows`` images remain for training after the split.

    Returns None when ``validation_fraction`` is invalid, which
    ``check_data_processing`` reports.
    """
    try:
        fraction = check_validation_fraction(validation_fraction)
    except ValueError:
        return None
    return rows - count_validation_rows(rows, fraction)
