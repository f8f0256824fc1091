"""``NumpyDataset`` saves and loads one NumPy array as a ``.npy`` file through fsspec."""

from __future__ import annotations

import json
import uuid
from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any

import fsspec
import numpy as np
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)
from kedro_datasets._typing import JSONPreview

from mnist_fnn.datasets._paths import format_path

NPY_MAGIC = b"\x93NUMPY"


class NumpyDataset(AbstractVersionedDataset[np.ndarray, np.ndarray]):
    """Versioned dataset of one NumPy array stored as a ``.npy`` file.

    Pickling is disabled on save and load, so object arrays are rejected and loading
    a file cannot run code. Local saves write a temporary file in the target folder
    and rename it into place, so an interrupted save never leaves a partial file at
    the target path. Remote saves write the target directly.

    Versioned files are stored as ``<filepath>/<version>/<filename>``, as in
    kedro-datasets.

    Examples:
        Catalog entry:

        ```yaml
        x_train:
          type: mnist_fnn.datasets.NumpyDataset
          filepath: data/05_model_input/x_train.npy
        ```

        Python:

        >>> dataset = NumpyDataset(filepath=tmp_path / "x.npy")
        >>> dataset.save(np.arange(6, dtype=np.float32).reshape(2, 3))
        >>> dataset.load().shape
        (2, 3)
    """

    def __init__(  # noqa: PLR0913
        self,
        *,
        filepath: str,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create a dataset for one ``.npy`` file.

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

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": format_path(self._protocol, self._filepath),
            "protocol": self._protocol,
            "version": self._version,
        }

    def load(self) -> np.ndarray:
        """Load the array.

        Returns:
            The stored array.

        Raises:
            DatasetError: If the file is missing or is not a valid ``.npy`` file
                of a dtype that loads without pickle.
        """
        load_path = self._get_load_path()
        display_path = format_path(self._protocol, load_path)
        try:
            with self._fs.open(
                get_filepath_str(load_path, self._protocol), **self._fs_open_args_load
            ) as file:
                if file.read(len(NPY_MAGIC)) != NPY_MAGIC:
                    raise DatasetError(
                        f"File '{display_path}' is not a valid .npy file: it does "
                        f"not start with the .npy magic string."
                    )
                file.seek(0)
                return np.lib.format.read_array(file, allow_pickle=False)
        except FileNotFoundError as exc:
            raise DatasetError(
                f"NumPy file '{display_path}' not found. Run the pipeline that "
                f"produces it first."
            ) from exc
        except ValueError as exc:
            # read_array raises ValueError for a bad header, truncated data and
            # object arrays, which need pickle.
            raise DatasetError(
                f"File '{display_path}' is not a valid .npy file without pickled "
                f"objects: {exc}"
            ) from exc

    def save(self, data: np.ndarray) -> None:
        """Save the array without pickle.

        Args:
            data: The array to save.

        Raises:
            DatasetError: If ``data`` is not a NumPy array or has an object dtype.
        """
        save_path = self._get_save_path()
        display_path = format_path(self._protocol, save_path)
        if not isinstance(data, np.ndarray):
            raise DatasetError(
                f"NumpyDataset for '{display_path}' expected a NumPy array, got "
                f"{type(data).__name__}."
            )
        if data.dtype.hasobject:
            raise DatasetError(
                f"NumpyDataset for '{display_path}' rejects arrays of dtype "
                f"{data.dtype}, because saving objects needs pickle, which is "
                f"disabled. Convert the array to a numeric dtype first."
            )

        target = get_filepath_str(save_path, self._protocol)
        if self._protocol == "file":
            self._save_atomically(data, target)
        else:
            # NOTE: Remote saves write the target directly, because a rename on
            # object storage is a copy and a delete, so it would not be atomic.
            with self._fs.open(target, **self._fs_open_args_save) as file:
                np.lib.format.write_array(file, data, allow_pickle=False)

        self._invalidate_cache()

    def _save_atomically(self, data: np.ndarray, target: str) -> None:
        # The temporary file sits in the target folder, so the rename stays on one
        # file system and is atomic.
        target_path = PurePosixPath(target)
        temporary = str(
            target_path.with_name(f".{target_path.name}.{uuid.uuid4().hex}.tmp")
        )
        try:
            with self._fs.open(temporary, **self._fs_open_args_save) as file:
                np.lib.format.write_array(file, data, allow_pickle=False)
            self._fs.mv(temporary, target)
        finally:
            if self._fs.exists(temporary):
                self._fs.rm_file(temporary)

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

    def preview(self, rows: int = 3, columns: int = 10) -> JSONPreview:
        """Summarise the array for Kedro-Viz.

        Args:
            rows: Number of leading rows to include.
            columns: Number of leading values to include from each row.

        Returns:
            A JSON object as a string, because Kedro-Viz parses ``JSONPreview``
            content with ``JSON.parse``. It contains the shape and dtype, the minimum,
            maximum and mean for real-valued arrays, and the top-left corner of the
            array, rounded to 4 decimals.
        """
        array = self.load()
        summary: dict[str, Any] = {
            "shape": list(array.shape),
            "dtype": str(array.dtype),
        }
        is_real = np.issubdtype(array.dtype, np.integer) or np.issubdtype(
            array.dtype, np.floating
        )
        if is_real and array.size:
            summary["min"] = _to_json_number(array.min())
            summary["max"] = _to_json_number(array.max())
            summary["mean"] = _to_json_number(array.mean(dtype=np.float64))

        if array.ndim == 0:
            corner = array
        elif array.ndim == 1:
            corner = array[:columns]
        else:
            corner = array[:rows, :columns]
            # Dimensions after the second are cut to their first entry to keep the
            # preview two-dimensional.
            corner = corner[(..., *([0] * (array.ndim - 2)))]

        summary["head"] = _to_json_values(corner)
        return JSONPreview(json.dumps(summary))


def _to_json_number(value: np.generic) -> int | float | None:
    # JSON has no NaN or infinity, so those become null.
    if np.issubdtype(value.dtype, np.integer):
        return int(value)
    if not np.isfinite(value):
        return None
    return round(float(value), 4)


def _to_json_values(array: np.ndarray) -> Any:
    if np.issubdtype(array.dtype, np.floating):
        rounded = np.round(array.astype(np.float64), 4).astype(object)
        rounded[~np.isfinite(array)] = None
        return rounded.tolist()
    if np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        return array.tolist()
    return np.vectorize(str, otypes=[object])(array).tolist()
