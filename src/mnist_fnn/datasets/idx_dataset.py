"""``IDXDataset`` loads MNIST-style IDX files, raw or gzip-compressed, through fsspec."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
import zlib
from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any

import fsspec
import numpy as np
from kedro.io.core import (
    AbstractDataset,
    DatasetError,
    get_filepath_str,
    get_protocol_and_path,
)
from kedro_datasets._typing import JSONPreview

from mnist_fnn.datasets._paths import format_path
from mnist_fnn.datasets._previews import missing_json_preview

GZIP_MAGIC = b"\x1f\x8b"
LABELS_MAGIC = 0x00000801
IMAGES_MAGIC = 0x00000803
UNSIGNED_BYTE_TYPE = 0x08

# Data type codes of the IDX format, from the format description on Yann LeCun's
# MNIST page. Only unsigned byte data is decoded, and the other names make the
# error message for them readable.
IDX_TYPE_NAMES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "16-bit integer",
    0x0C: "32-bit integer",
    0x0D: "32-bit float",
    0x0E: "64-bit float",
}

KIND_MAGIC_NUMBERS = {"labels": LABELS_MAGIC, "images": IMAGES_MAGIC}

RESTORE_HINT = (
    "The MNIST files ship with the repository under data/01_raw/mnist, so "
    "`git checkout -- data/01_raw/mnist` restores them."
)

# Bytes checked when deciding whether a file is text, such as an error page saved
# under the IDX file name.
TEXT_SNIFF_BYTES = 1024
TEXT_MIN_PRINTABLE_FRACTION = 0.9

SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")


def _format_magic(value: int) -> str:
    return f"0x{value:08X} ({value})"


def _looks_like_text(data: bytes) -> bool:
    head = data[:TEXT_SNIFF_BYTES]
    printable = sum(1 for byte in head if 32 <= byte < 127 or byte in b"\t\n\r")
    return printable >= TEXT_MIN_PRINTABLE_FRACTION * len(head)


def _decompress(raw: bytes, path: str) -> bytes:
    """Decompress ``raw`` when it starts with the gzip magic bytes.

    The content decides, not the file name, so a gzip file saved without ``.gz``
    and a decompressed file saved with ``.gz`` both load.
    """
    if not raw.startswith(GZIP_MAGIC):
        return raw

    try:
        return gzip.decompress(raw)
    except EOFError as exc:
        raise DatasetError(
            f"IDX file '{path}' is a truncated gzip stream ({exc}). "
            f"The file is incomplete, probably from an interrupted download or "
            f"copy. {RESTORE_HINT}"
        ) from exc
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise DatasetError(
            f"IDX file '{path}' is a corrupt gzip stream ({exc}). {RESTORE_HINT}"
        ) from exc


def _check_magic(data: bytes, path: str, expected_kind: str | None) -> int:
    """Validate the 4-byte IDX magic number and return the number of dimensions.

    The magic number is two zero bytes, a data type code and the number of
    dimensions, so labels (1-D unsigned bytes) are 2049 and images (3-D) are 2051.
    """
    expected = (
        f"expected {_format_magic(IMAGES_MAGIC)} for images or "
        f"{_format_magic(LABELS_MAGIC)} for labels"
    )
    if not data:
        raise DatasetError(f"IDX file '{path}' is empty (0 bytes). {RESTORE_HINT}")

    if not data.startswith(b"\x00\x00"):
        if data.lstrip().startswith(b"<"):
            raise DatasetError(
                f"IDX file '{path}' looks like an HTML page, not IDX data, so the "
                f"download probably failed. {RESTORE_HINT}"
            )
        if _looks_like_text(data):
            raise DatasetError(
                f"IDX file '{path}' looks like a text file, not IDX data, so the "
                f"download probably failed. {RESTORE_HINT}"
            )

    if len(data) < 4:
        raise DatasetError(
            f"IDX file '{path}' is truncated: expected at least 4 bytes for the "
            f"magic number, found {len(data):,}. {RESTORE_HINT}"
        )

    magic = int.from_bytes(data[:4], "big")
    type_code = data[2]
    ndim = data[3]
    if not data.startswith(b"\x00\x00") or ndim == 0:
        raise DatasetError(
            f"IDX file '{path}' has magic number {_format_magic(magic)}, "
            f"{expected}, so it is not an IDX file."
        )

    if type_code != UNSIGNED_BYTE_TYPE:
        type_name = IDX_TYPE_NAMES.get(type_code, "an unknown type")
        raise DatasetError(
            f"IDX file '{path}' has magic number {_format_magic(magic)}, which "
            f"declares data type 0x{type_code:02X} ({type_name}). Only unsigned "
            f"byte data (type 0x08), as in MNIST, is supported."
        )

    if expected_kind is not None and magic != KIND_MAGIC_NUMBERS[expected_kind]:
        found_kind = {LABELS_MAGIC: "labels", IMAGES_MAGIC: "images"}.get(
            magic, f"{ndim}-D data"
        )
        raise DatasetError(
            f"IDX file '{path}' contains {found_kind} with magic number "
            f"{_format_magic(magic)}, but the dataset expects {expected_kind} with "
            f"magic number {_format_magic(KIND_MAGIC_NUMBERS[expected_kind])}. "
            f"Check that the catalog entry points at the {expected_kind} file."
        )

    return ndim


def _read_shape(data: bytes, path: str, ndim: int) -> tuple[int, ...]:
    """Read the big-endian 32-bit dimension sizes that follow the magic number."""
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DatasetError(
            f"IDX file '{path}' is truncated: expected a {header_size}-byte header "
            f"for {ndim} dimensions, found {len(data):,} bytes. {RESTORE_HINT}"
        )

    return tuple(
        int.from_bytes(data[offset : offset + 4], "big")
        for offset in range(4, header_size, 4)
    )


def _check_size(data: bytes, path: str, shape: tuple[int, ...]) -> None:
    header_size = 4 + 4 * len(shape)
    expected_size = header_size + math.prod(shape)
    counts = f"expected {expected_size:,} bytes, found {len(data):,}"
    layout = (
        f"The header declares {' x '.join(f'{size:,}' for size in shape)} values "
        f"after {header_size} header bytes."
    )
    if len(data) < expected_size:
        raise DatasetError(
            f"IDX file '{path}' is truncated: {counts}. {layout} {RESTORE_HINT}"
        )
    if len(data) > expected_size:
        raise DatasetError(
            f"IDX file '{path}' has {len(data) - expected_size:,} extra bytes after "
            f"the data: {counts}. {layout} {RESTORE_HINT}"
        )


def _decode_idx(data: bytes, path: str, expected_kind: str | None) -> np.ndarray:
    """Decode the decompressed bytes of an IDX file.

    Args:
        data: The file's bytes after gzip decompression.
        path: The file's path, used in error messages.
        expected_kind: ``"images"`` or ``"labels"`` to require that magic number,
            or ``None`` to accept unsigned byte data of any number of dimensions.

    Returns:
        A writable ``uint8`` array with the dimensions the header declares.

    Raises:
        DatasetError: If the bytes are not a complete IDX file of unsigned bytes
            or, with ``expected_kind``, not of that kind.
    """
    ndim = _check_magic(data, path, expected_kind)
    shape = _read_shape(data, path, ndim)
    _check_size(data, path, shape)

    values = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return values.reshape(shape).copy()


class IDXDataset(AbstractDataset[None, np.ndarray]):
    """Read-only dataset of one IDX file, the format MNIST is published in.

    Gzip compression is detected from the file's first bytes, not its name. The
    header, the data type and the byte count are validated on every load, and an
    optional SHA-256 of the decompressed bytes catches a different file of the
    right size.

    Examples:
        Catalog entry:

        ```yaml
        mnist_train_images:
          type: mnist_fnn.datasets.IDXDataset
          filepath: data/01_raw/mnist/train-images-idx3-ubyte.gz
          expected_kind: images
          sha256: ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
        ```

        Python:

        >>> dataset = IDXDataset(
        ...     filepath="data/01_raw/mnist/t10k-labels-idx1-ubyte.gz",
        ...     expected_kind="labels",
        ... )
        >>> dataset.load().shape
        (10000,)
    """

    def __init__(  # noqa: PLR0913
        self,
        *,
        filepath: str,
        expected_kind: str | None = None,
        sha256: str | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create a dataset for one IDX file.

        Args:
            filepath: Path to the file, prefixed with an fsspec protocol such as
                ``s3://`` for remote storage. Without a prefix the path is local.
            expected_kind: ``"images"`` (magic number 2051) or ``"labels"``
                (magic number 2049) to reject the other kind, or ``None`` to accept
                unsigned byte data of any number of dimensions.
            sha256: Hex SHA-256 of the decompressed file, checked on every load.
                ``None`` skips the check.
            credentials: Credentials passed to the fsspec filesystem.
            fs_args: Arguments passed to the fsspec filesystem constructor, and to
                its ``open`` through the nested key ``open_args_load``.
            metadata: Arbitrary metadata, ignored by Kedro.

        Raises:
            ValueError: If ``expected_kind`` or ``sha256`` is invalid.
        """
        if expected_kind is not None and expected_kind not in KIND_MAGIC_NUMBERS:
            raise ValueError(
                f"Invalid expected_kind: {expected_kind!r}. Use 'images', 'labels' "
                f"or None."
            )
        if sha256 is not None and not SHA256_PATTERN.fullmatch(sha256.lower()):
            raise ValueError(
                f"Invalid sha256: {sha256!r}. Expected 64 hexadecimal digits."
            )

        _fs_args = deepcopy(fs_args) or {}
        self._fs_open_args_load = {
            **_fs_args.pop("open_args_load", {}),
            "mode": "rb",
        }
        _credentials = deepcopy(credentials) or {}

        protocol, path = get_protocol_and_path(filepath)
        self._protocol = protocol
        self._filepath = PurePosixPath(path)
        self._fs = fsspec.filesystem(protocol, **_credentials, **_fs_args)

        self._expected_kind = expected_kind
        self._sha256 = sha256.lower() if sha256 is not None else None
        self.metadata = metadata

    @property
    def _display_path(self) -> str:
        return format_path(self._protocol, self._filepath)

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": self._display_path,
            "protocol": self._protocol,
            "expected_kind": self._expected_kind,
            "sha256": self._sha256,
        }

    def load(self) -> np.ndarray:
        """Read, validate and decode the IDX file.

        Returns:
            A ``uint8`` array: ``(n,)`` for labels, ``(n, rows, columns)`` for
            images.

        Raises:
            DatasetError: If the file is missing, is not a complete IDX file of
                unsigned bytes, contains the wrong kind, or fails the SHA-256 check.
        """
        load_path = get_filepath_str(self._filepath, self._protocol)
        try:
            with self._fs.open(load_path, **self._fs_open_args_load) as file:
                raw = file.read()
        except FileNotFoundError as exc:
            raise DatasetError(
                f"IDX file '{self._display_path}' not found. {RESTORE_HINT}"
            ) from exc

        data = _decompress(raw, self._display_path)
        array = _decode_idx(data, self._display_path, self._expected_kind)
        self._check_sha256(data)
        return array

    def _check_sha256(self, data: bytes) -> None:
        # The hash covers the decompressed bytes, so it does not depend on how the
        # file was compressed.
        if self._sha256 is None:
            return

        actual = hashlib.sha256(data).hexdigest()
        if actual != self._sha256:
            raise DatasetError(
                f"IDX file '{self._display_path}' failed the SHA-256 check of its "
                f"decompressed bytes: expected {self._sha256}, found {actual}. "
                f"The file is corrupt or a different version of the data. "
                f"{RESTORE_HINT}"
            )

    def save(self, data: None) -> None:
        """Reject saving, because IDX files are read-only inputs.

        Raises:
            DatasetError: Always.
        """
        raise DatasetError(
            f"IDX files are read-only inputs, so the dataset for "
            f"'{self._display_path}' cannot save data. Save node outputs to "
            f"another dataset, such as mnist_fnn.datasets.NumpyDataset."
        )

    def _exists(self) -> bool:
        load_path = get_filepath_str(self._filepath, self._protocol)
        return self._fs.exists(load_path)

    def preview(self) -> JSONPreview:
        """Summarise the file for Kedro-Viz.

        Returns:
            A JSON object as a string, because Kedro-Viz parses ``JSONPreview``
            content with ``JSON.parse``. It contains the kind, shape and dtype, the
            count per class for labels, and the minimum, maximum and mean value
            for images.
        """
        try:
            array = self.load()
        except DatasetError as exc:
            # The message names the file and says how to restore it, which helps
            # more in the side panel than Kedro-Viz's "could not be previewed".
            return missing_json_preview(str(exc))
        summary: dict[str, Any] = {
            "kind": {1: "labels", 3: "images"}.get(array.ndim, f"{array.ndim}-D data"),
            "filepath": self._display_path,
            "shape": list(array.shape),
            "dtype": str(array.dtype),
        }
        if array.ndim == 1:
            values, counts = np.unique(array, return_counts=True)
            summary["counts_per_class"] = {
                str(value): int(count)
                for value, count in zip(values, counts, strict=True)
            }
        elif array.size:
            summary["min"] = int(array.min())
            summary["max"] = int(array.max())
            summary["mean"] = round(float(array.mean()), 4)

        return JSONPreview(json.dumps(summary))
