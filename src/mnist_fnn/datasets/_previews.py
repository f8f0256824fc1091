"""Kedro-Viz previews of datasets whose file does not exist yet.

Before the first ``kedro run`` the outputs have no file, and Kedro-Viz would show
"could not be previewed" for each. These previews tell the user what to do instead, in the
format each preview type expects.
"""

from __future__ import annotations

import json
from typing import Any

from kedro.io.core import DatasetError
from kedro_datasets._typing import JSONPreview, PlotlyPreview, TablePreview

NOT_WRITTEN_MESSAGE = "Not written yet: run `kedro run` to create this dataset."


def has_saved_file(dataset: Any) -> bool:
    """Tell whether ``dataset`` has a file to load.

    kedro-datasets' plotly ``JSONDataset._exists`` raises instead of returning
    False when a versioned dataset has no version yet, so the error is caught here.
    """
    try:
        return bool(dataset._exists())
    except DatasetError:
        return False


def missing_json_preview(message: str = NOT_WRITTEN_MESSAGE) -> JSONPreview:
    """Return a JSON preview object that contains only ``message``."""
    return JSONPreview(json.dumps({"message": message}))


def missing_table_preview(message: str = NOT_WRITTEN_MESSAGE) -> TablePreview:
    """Return a one-cell table, in pandas' split orientation, that shows ``message``."""
    return TablePreview({"index": [0], "columns": ["message"], "data": [[message]]})


def missing_plotly_preview(message: str = NOT_WRITTEN_MESSAGE) -> PlotlyPreview:
    """Return an empty Plotly figure whose title is ``message``."""
    return PlotlyPreview({"data": [], "layout": {"title": {"text": message}}})
