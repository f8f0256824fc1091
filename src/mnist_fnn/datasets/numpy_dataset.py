"""``NumpyDataset`` saves and loads one NumPy array as a ``.npy`` file through fsspec."""

from __future__ import annotations

import json
from typing import IO, Any

import numpy as np
from kedro.io.core import DatasetError
from kedro_datasets._typing import JSONPreview

from mnist_fnn.datasets._file_dataset import BinaryFileDataset
from mnist_fnn.datasets._previews import has_saved_file, missing_json_preview

NPY_MAGIC = b"\x93NUMPY"


class NumpyDataset(BinaryFileDataset[np.ndarray]):
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

    _file_kind = "NumPy file"

    def _check(self, data: Any, display_path: str) -> None:
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

    def _write(self, file: IO[bytes], data: np.ndarray) -> None:
        np.lib.format.write_array(file, data, allow_pickle=False)

    def _read(self, file: IO[bytes], display_path: str) -> np.ndarray:
        if file.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise DatasetError(
                f"File '{display_path}' is not a valid .npy file: it does "
                f"not start with the .npy magic string."
            )
        file.seek(0)
        try:
            return np.lib.format.read_array(file, allow_pickle=False)
        except ValueError as exc:
            # read_array raises ValueError for a bad header, truncated data and
            # object arrays, which need pickle.
            raise DatasetError(
                f"File '{display_path}' is not a valid .npy file without pickled "
                f"objects: {exc}"
            ) from exc

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
        if not has_saved_file(self):
            return missing_json_preview()
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
