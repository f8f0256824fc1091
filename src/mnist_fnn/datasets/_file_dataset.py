"""Base class of the project's versioned datasets that store one binary file."""

from __future__ import annotations

from copy import deepcopy
from pathlib import PurePosixPath
from typing import IO, Any, Generic, TypeVar

import fsspec
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)

from mnist_fnn.datasets._atomic import AtomicSaveMixin
from mnist_fnn.datasets._paths import format_path

_Data = TypeVar("_Data")


class BinaryFileDataset(
    AtomicSaveMixin, AbstractVersionedDataset[_Data, _Data], Generic[_Data]
):
    """Versioned dataset of one binary file read and written through fsspec.

    Subclasses implement ``_check``, ``_write`` and ``_read``. Local saves write a
    temporary file in the target folder and rename it into place, so an interrupted
    save never leaves a partial file at the target path. Remote saves write the
    target directly.

    Versioned files are stored as ``<filepath>/<version>/<filename>``, as in
    kedro-datasets.
    """

    #: What the file contains, for error messages, e.g. ``"NumPy file"``.
    _file_kind = "file"

    def __init__(  # noqa: PLR0913
        self,
        *,
        filepath: str,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create a dataset for one file.

        Args:
            filepath: Path to the file, prefixed with an fsspec protocol such as
                ``s3://`` for remote storage. Without a prefix the path is local.
            version: Version to load and save. A ``None`` load version loads the
                latest, and a ``None`` save version is a new timestamp. ``None``
                disables versioning.
            credentials: Credentials passed to the fsspec filesystem.
            fs_args: Arguments passed to the fsspec filesystem constructor, and to
                its ``open`` through the nested keys ``open_args_load`` and
                ``open_args_save``.
            metadata: Arbitrary metadata, ignored by Kedro.
        """
        _fs_args = deepcopy(fs_args) or {}
        self._fs_open_args_load = {**_fs_args.pop("open_args_load", {}), "mode": "rb"}
        self._fs_open_args_save = {**_fs_args.pop("open_args_save", {}), "mode": "wb"}
        _credentials = deepcopy(credentials) or {}

        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        if protocol == "file":
            _fs_args.setdefault("auto_mkdir", True)
        self._fs = fsspec.filesystem(protocol, **_credentials, **_fs_args)
        self.metadata = metadata

        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def _check(self, data: Any, display_path: str) -> None:
        """Raise ``DatasetError`` if ``data`` cannot be saved by this dataset."""

    def _read(self, file: IO[bytes], display_path: str) -> _Data:
        raise NotImplementedError

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": format_path(self._protocol, self._filepath),
            "protocol": self._protocol,
            "version": self._version,
        }

    def load(self) -> _Data:
        """Load the file's content.

        Raises:
            DatasetError: If the file is missing or its content is invalid.
        """
        load_path = self._get_load_path()
        display_path = format_path(self._protocol, load_path)
        try:
            with self._fs.open(
                get_filepath_str(load_path, self._protocol), **self._fs_open_args_load
            ) as file:
                return self._read(file, display_path)
        except FileNotFoundError as exc:
            raise DatasetError(
                f"{self._file_kind} '{display_path}' not found. Run the pipeline "
                f"that produces it first."
            ) from exc

    def save(self, data: _Data) -> None:
        """Save ``data`` to a new file, through a temporary file when local.

        Raises:
            DatasetError: If ``data`` cannot be saved by this dataset.
        """
        self._check(data, format_path(self._protocol, self._get_save_path()))
        super().save(data)

    def _exists(self) -> bool:
        try:
            load_path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False

        return self._fs.exists(load_path)

    def _release(self) -> None:
        super()._release()
        self._invalidate_cache()

    def _invalidate_cache(self) -> None:
        filepath = get_filepath_str(self._filepath, self._protocol)
        self._fs.invalidate_cache(filepath)
