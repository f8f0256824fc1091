"""Names of the training configurations, read from the project's parameters.

The training and reporting pipelines build one Kedro namespace per entry under
``configurations`` in ``conf/<env>/parameters*.yml``. Kedro creates pipelines before
it loads parameters for a run, so the names are read here with the same
``OmegaConfigLoader`` settings that ``kedro run`` uses.
"""

from __future__ import annotations

import os
from pathlib import Path

from kedro.config import OmegaConfigLoader
from kedro.framework.project import settings
from kedro.utils import find_kedro_project

CONFIGURATIONS_KEY = "configurations"

# src/mnist_fnn/configurations.py -> the project root, for imports from outside it.
_PACKAGE_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def find_project_root() -> Path:
    """Return the Kedro project that contains the working directory.

    Falls back to the project this package was installed from, so that a Python
    session started elsewhere still finds the configuration.
    """
    return find_kedro_project(Path.cwd()) or _PACKAGE_PROJECT_ROOT


def load_configuration_names(
    project_path: Path | None = None, env: str | None = None
) -> list[str]:
    """Read the configuration names under ``configurations`` in the parameters.

    Args:
        project_path: Root of the Kedro project; found from the working directory
            when omitted.
        env: Configuration environment; ``KEDRO_ENV`` or ``local`` when omitted, as
            for ``kedro run``.

    Returns:
        The names in the order the parameters list them.

    Raises:
        ValueError: If ``configurations`` is missing, empty or not a mapping.
    """
    project_path = project_path or find_project_root()
    conf_source = project_path / settings.CONF_SOURCE
    loader = OmegaConfigLoader(
        conf_source=str(conf_source),
        env=env or os.getenv("KEDRO_ENV"),
        base_env="base",
        default_run_env="local",
    )
    configurations = loader["parameters"].get(CONFIGURATIONS_KEY)
    if not isinstance(configurations, dict) or not configurations:
        raise ValueError(
            f"No training configurations found: the parameters in {conf_source} need "
            f"a non-empty mapping '{CONFIGURATIONS_KEY}' from configuration names to "
            "their settings (see conf/base/parameters_training.yml)."
        )
    return [str(name) for name in configurations]
