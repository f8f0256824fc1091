"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline


def register_pipelines() -> dict[str, Pipeline]:
    """Register ``data_processing``, ``training`` and ``reporting``.

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects; ``__default__`` runs
        all three.
    """
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(pipelines.values())
    return pipelines
