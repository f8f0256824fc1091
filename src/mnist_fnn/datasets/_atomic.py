"""Atomic local saves: write a temporary file, then rename it into place.

A run stopped by Ctrl+C, ``kill`` or an error in the middle of a save then leaves
either the complete file or none at the target path, never a partial one.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import IO, Any

from kedro.io.core import get_filepath_str
from kedro_datasets._typing import JSONPreview, PlotlyPreview, TablePreview
from kedro_datasets.json import JSONDataset as _KedroJSONDataset
from kedro_datasets.pandas import CSVDataset as _KedroCSVDataset
from kedro_datasets.plotly import JSONDataset as _KedroPlotlyJSONDataset

from mnist_fnn.datasets._previews import (
    has_saved_file,
    missing_json_preview,
    missing_plotly_preview,
    missing_table_preview,
)

TEMPORARY_SUFFIX = ".tmp"


def temporary_path(target: str) -> str:
    """Return a unique hidden path beside ``target``, ending in ``.tmp``.

    The temporary file sits in the target folder, so the rename stays on one file
    system and is atomic.
    """
    target_path = PurePosixPath(target)
    name = f".{target_path.name}.{uuid.uuid4().hex}{TEMPORARY_SUFFIX}"
    return str(target_path.with_name(name))


def save_atomically(
    fs: Any, target: str, open_args: dict[str, Any], write: Callable[[IO], None]
) -> None:
    """Write a file through ``write`` to a temporary path and rename it to ``target``.

    On any exception, ``KeyboardInterrupt`` and ``SystemExit`` included, the
    temporary file is removed, and so is the target folder if the save created it
    and it is still empty (a new version folder, for versioned datasets).

    Args:
        fs: The fsspec file system of a local path.
        target: Path of the file to create.
        open_args: Arguments of ``fs.open``, such as ``{"mode": "wb"}``.
        write: Writes the content to the open file.
    """
    temporary = temporary_path(target)
    folder = str(PurePosixPath(target).parent)
    folder_existed = fs.exists(folder)
    saved = False
    try:
        with fs.open(temporary, **open_args) as file:
            write(file)
        fs.mv(temporary, target)
        saved = True
    finally:
        if fs.exists(temporary):
            fs.rm_file(temporary)
        if not saved and not folder_existed:
            # rmdir fails on a folder that another process has written to meanwhile,
            # which must stay.
            with contextlib.suppress(OSError):
                fs.rmdir(folder)


class AtomicSaveMixin:
    """Make a file dataset save locally through a temporary file.

    The subclass implements ``_write(file, data)``, which writes ``data`` to an open
    file, as the parent's ``save`` would. Remote saves keep the parent's direct write, because a rename on
    object storage is a copy and a delete, so it would not be atomic.
    """

    def _write(self, file: IO, data: Any) -> None:
        raise NotImplementedError

    def save(self, data: Any) -> None:
        """Save ``data``, through a temporary file that is renamed when local."""
        target = get_filepath_str(self._get_save_path(), self._protocol)
        if self._protocol == "file":
            save_atomically(
                self._fs,
                target,
                self._fs_open_args_save,
                lambda file: self._write(file, data),
            )
        else:
            with self._fs.open(target, **self._fs_open_args_save) as file:
                self._write(file, data)
        self._invalidate_cache()


class JSONDataset(AtomicSaveMixin, _KedroJSONDataset):
    """``kedro_datasets.json.JSONDataset`` with atomic local saves.

    Takes the same catalog arguments as the parent class.
    """

    def preview(self) -> JSONPreview:
        """Preview the JSON content, or return a message that no version is saved yet."""
        if not has_saved_file(self):
            return missing_json_preview()
        return super().preview()

    def _write(self, file: IO, data: Any) -> None:
        json.dump(data, file, **self._save_args)


class CSVDataset(AtomicSaveMixin, _KedroCSVDataset):
    """``kedro_datasets.pandas.CSVDataset`` with atomic local saves.

    Takes the same catalog arguments as the parent class.
    """

    def preview(self, nrows: int = 5) -> TablePreview:
        """Preview the first ``nrows`` rows, or a message that no version is saved yet."""
        if not has_saved_file(self):
            return missing_table_preview()
        return super().preview(nrows=nrows)

    def _write(self, file: IO, data: Any) -> None:
        data.to_csv(path_or_buf=file, **self._save_args)


class PlotlyJSONDataset(AtomicSaveMixin, _KedroPlotlyJSONDataset):
    """``kedro_datasets.plotly.JSONDataset`` with atomic local saves.

    Takes the same catalog arguments as the parent class.
    """

    def preview(self) -> PlotlyPreview:
        """Preview the figure, or an empty figure titled with a message that none is saved."""
        if not has_saved_file(self):
            return missing_plotly_preview()
        return super().preview()

    def _write(self, file: IO, data: Any) -> None:
        data.write_json(file, **self._save_args)
