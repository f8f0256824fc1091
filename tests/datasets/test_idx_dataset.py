"""Tests for ``IDXDataset`` on the committed MNIST files and on broken copies."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from kedro.io import DataCatalog, DatasetError

from mnist_fnn.datasets import IDXDataset

MNIST_DIR = Path(__file__).resolve().parents[2] / "data/01_raw/mnist"
TRAIN_IMAGES = MNIST_DIR / "train-images-idx3-ubyte.gz"
TRAIN_LABELS = MNIST_DIR / "train-labels-idx1-ubyte.gz"
TEST_IMAGES = MNIST_DIR / "t10k-images-idx3-ubyte.gz"
TEST_LABELS = MNIST_DIR / "t10k-labels-idx1-ubyte.gz"

SHA256 = {
    TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
RESTORE_COMMAND = "git checkout -- data/01_raw/mnist"


@pytest.fixture(scope="module")
def train_labels() -> np.ndarray:
    return IDXDataset(filepath=str(TRAIN_LABELS), expected_kind="labels").load()


@pytest.fixture(scope="module")
def train_labels_raw() -> bytes:
    """Decompressed bytes of the training labels file."""
    return gzip.decompress(TRAIN_LABELS.read_bytes())


def load_error(path: Path, **kwargs) -> str:
    """Load ``path`` expecting a ``DatasetError`` and return its message."""
    with pytest.raises(DatasetError) as excinfo:
        IDXDataset(filepath=str(path), **kwargs).load()
    return str(excinfo.value)


@pytest.mark.parametrize(
    ("path", "expected_kind", "shape"),
    [
        (TRAIN_IMAGES, "images", (60000, 28, 28)),
        (TRAIN_LABELS, "labels", (60000,)),
        (TEST_IMAGES, "images", (10000, 28, 28)),
        (TEST_LABELS, "labels", (10000,)),
    ],
    ids=lambda value: value.name if isinstance(value, Path) else None,
)
def test_real_file_shape_and_checksum(path, expected_kind, shape):
    dataset = IDXDataset(
        filepath=str(path), expected_kind=expected_kind, sha256=SHA256[path]
    )

    array = dataset.load()

    assert array.shape == shape
    assert array.dtype == np.uint8
    assert array.flags.writeable


def test_first_training_labels(train_labels):
    assert train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


def test_training_label_counts(train_labels):
    assert np.bincount(train_labels, minlength=10).tolist() == TRAIN_COUNTS


def test_test_label_counts():
    labels = IDXDataset(filepath=str(TEST_LABELS)).load()

    assert np.bincount(labels, minlength=10).tolist() == TEST_COUNTS


def test_image_pixel_range():
    images = IDXDataset(filepath=str(TEST_IMAGES)).load()

    assert images.min() == 0
    assert images.max() == 255


def test_wrong_sha256_names_both_hashes():
    wrong = "0" * 64

    message = load_error(TRAIN_LABELS, sha256=wrong)

    assert str(TRAIN_LABELS) in message
    assert f"expected {wrong}, found {SHA256[TRAIN_LABELS]}" in message
    assert "corrupt or a different version" in message
    assert RESTORE_COMMAND in message


def test_sha256_accepts_upper_case():
    dataset = IDXDataset(filepath=str(TEST_LABELS), sha256=SHA256[TEST_LABELS].upper())

    assert dataset.load().shape == (10000,)


def test_gzip_file_without_gz_suffix_loads(tmp_path, train_labels):
    path = tmp_path / "train-labels-idx1-ubyte"
    shutil.copy(TRAIN_LABELS, path)

    loaded = IDXDataset(filepath=str(path), sha256=SHA256[TRAIN_LABELS]).load()

    np.testing.assert_array_equal(loaded, train_labels)


def test_raw_file_with_gz_suffix_loads(tmp_path, train_labels, train_labels_raw):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(train_labels_raw)

    loaded = IDXDataset(filepath=str(path), sha256=SHA256[TRAIN_LABELS]).load()

    np.testing.assert_array_equal(loaded, train_labels)


def test_html_page_is_recognised(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(
        b"\n<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
        b"<body><h1>Not Found</h1></body></html>\n"
    )

    message = load_error(path)

    assert str(path) in message
    assert "looks like an HTML page, not IDX data" in message
    assert "the download probably failed" in message
    assert RESTORE_COMMAND in message


def test_gzipped_html_page_is_recognised(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"<html><body>Access denied</body></html>"))

    message = load_error(path)

    assert "looks like an HTML page, not IDX data" in message


def test_text_file_is_recognised(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(b'{"error": "rate limit exceeded, try again later"}\n')

    message = load_error(path)

    assert str(path) in message
    assert "looks like a text file, not IDX data" in message


def test_truncated_raw_images_give_byte_counts(tmp_path):
    raw = gzip.decompress(TRAIN_IMAGES.read_bytes())
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(raw[:9_912_422])

    message = load_error(path, expected_kind="images")

    assert str(path) in message
    assert "truncated: expected 47,040,016 bytes, found 9,912,422" in message
    assert "60,000 x 28 x 28 values after 16 header bytes" in message
    assert RESTORE_COMMAND in message


def test_extra_trailing_bytes_are_rejected(tmp_path, train_labels_raw):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(train_labels_raw + bytes(12))

    message = load_error(path)

    assert str(path) in message
    assert "has 12 extra bytes after the data" in message
    assert "expected 60,008 bytes, found 60,020" in message


def test_truncated_header_is_rejected(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0, 0xEA, 0x60]))

    message = load_error(path)

    assert str(path) in message
    assert "truncated: expected a 16-byte header for 3 dimensions" in message
    assert "found 8 bytes" in message


def test_truncated_gzip_stream_is_recognised(tmp_path):
    compressed = TRAIN_LABELS.read_bytes()
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(compressed[: len(compressed) // 2])

    message = load_error(path)

    assert str(path) in message
    assert "is a truncated gzip stream" in message
    assert RESTORE_COMMAND in message


def test_corrupt_gzip_checksum_is_recognised(tmp_path):
    compressed = bytearray(TEST_LABELS.read_bytes())
    # The last 8 bytes of a gzip member are the CRC-32 and size of the content.
    compressed[-8] ^= 0xFF
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(bytes(compressed))

    message = load_error(path)

    assert str(path) in message
    assert "is a corrupt gzip stream" in message


def test_wrong_magic_number_is_reported(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    # The bytes of the images magic number 0x00000803 in little-endian order.
    path.write_bytes(bytes([3, 8, 0, 0]) + bytes(100))

    message = load_error(path)

    assert str(path) in message
    assert "has magic number 0x03080000 (50855936)" in message
    assert "expected 0x00000803 (2051) for images" in message
    assert "0x00000801 (2049) for labels" in message


def test_zero_dimensions_are_rejected(tmp_path):
    path = tmp_path / "zero.idx"
    path.write_bytes(bytes([0, 0, 8, 0]))

    message = load_error(path)

    assert "has magic number 0x00000800 (2048)" in message


def test_non_byte_data_type_is_reported(tmp_path):
    path = tmp_path / "floats.idx"
    path.write_bytes(bytes([0, 0, 0x0D, 1, 0, 0, 0, 1]) + bytes(4))

    message = load_error(path)

    assert str(path) in message
    assert "data type 0x0D (32-bit float)" in message
    assert "Only unsigned byte data (type 0x08)" in message


def test_empty_file_is_reported(tmp_path):
    path = tmp_path / "empty.gz"
    path.write_bytes(b"")

    message = load_error(path)

    assert str(path) in message
    assert "is empty (0 bytes)" in message


def test_missing_file_names_full_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative = "data/01_raw/mnist/train-images-idx3-ubyte.gz"

    message = load_error(Path(relative))

    assert str(tmp_path / relative) in message
    assert "not found" in message
    assert "ship with the repository under data/01_raw/mnist" in message
    assert RESTORE_COMMAND in message


def test_labels_configured_as_images(tmp_path):
    message = load_error(TEST_LABELS, expected_kind="images")

    assert str(TEST_LABELS) in message
    assert "contains labels with magic number 0x00000801 (2049)" in message
    assert "expects images with magic number 0x00000803 (2051)" in message
    assert "points at the images file" in message


def test_images_configured_as_labels():
    message = load_error(TEST_IMAGES, expected_kind="labels")

    assert "contains images with magic number 0x00000803 (2051)" in message
    assert "expects labels" in message


def test_two_dimensional_idx_loads_without_kind(tmp_path):
    path = tmp_path / "matrix.idx"
    path.write_bytes(bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]))

    array = IDXDataset(filepath=str(path)).load()

    assert array.tolist() == [[1, 2, 3], [4, 5, 6]]


def test_save_is_rejected():
    dataset = IDXDataset(filepath=str(TEST_LABELS))

    with pytest.raises(DatasetError, match="IDX files are read-only inputs") as excinfo:
        dataset.save(np.zeros(3, dtype=np.uint8))

    assert str(TEST_LABELS) in str(excinfo.value)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"expected_kind": "pictures"}, "Invalid expected_kind: 'pictures'"),
        ({"sha256": "abc123"}, "Invalid sha256: 'abc123'. Expected 64 hexadecimal"),
    ],
)
def test_invalid_constructor_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        IDXDataset(filepath=str(TEST_LABELS), **arguments)


def test_exists(tmp_path):
    assert IDXDataset(filepath=str(TEST_LABELS)).exists()
    assert not IDXDataset(filepath=str(tmp_path / "missing.gz")).exists()


def test_repr_names_file_and_checksum():
    dataset = IDXDataset(filepath=str(TEST_LABELS), sha256=SHA256[TEST_LABELS])

    description = repr(dataset)

    assert str(TEST_LABELS) in description
    assert SHA256[TEST_LABELS] in description


def test_labels_preview_counts_classes():
    preview = json.loads(IDXDataset(filepath=str(TEST_LABELS)).preview())

    assert preview["kind"] == "labels"
    assert preview["shape"] == [10000]
    assert preview["dtype"] == "uint8"
    assert list(preview["counts_per_class"].values()) == TEST_COUNTS


def test_images_preview_has_statistics():
    preview = json.loads(IDXDataset(filepath=str(TEST_IMAGES)).preview())

    assert preview["kind"] == "images"
    assert preview["shape"] == [10000, 28, 28]
    assert preview["min"] == 0
    assert preview["max"] == 255
    # 0.1325 of full scale, the known mean of the MNIST test images.
    assert preview["mean"] == pytest.approx(0.1325 * 255, abs=0.02)


def test_catalog_entry_loads():
    catalog = DataCatalog.from_config(
        {
            "mnist_test_labels": {
                "type": "mnist_fnn.datasets.IDXDataset",
                "filepath": str(TEST_LABELS),
                "expected_kind": "labels",
                "sha256": SHA256[TEST_LABELS],
            }
        }
    )

    assert catalog.load("mnist_test_labels").shape == (10000,)
