"""Tests for ``NumpyDataset``: round trips, versions, pickle rejection, previews and
atomic writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from kedro.io import DatasetError
from kedro.io.core import Version

from mnist_fnn.datasets import NumpyDataset

FIRST_VERSION = "2026-01-01T00.00.00.000Z"
SECOND_VERSION = "2026-01-02T00.00.00.000Z"


@pytest.fixture
def features() -> np.ndarray:
    return np.linspace(0, 1, 5 * 12, dtype=np.float32).reshape(5, 12)


def test_round_trip_keeps_values_and_dtype(tmp_path, features):
    dataset = NumpyDataset(filepath=str(tmp_path / "x.npy"))

    dataset.save(features)
    loaded = dataset.load()

    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, features)


def test_save_creates_missing_folders(tmp_path, features):
    path = tmp_path / "05_model_input" / "x.npy"

    NumpyDataset(filepath=str(path)).save(features)

    assert path.is_file()


def test_saved_file_is_standard_npy(tmp_path, features):
    path = tmp_path / "x.npy"

    NumpyDataset(filepath=str(path)).save(features)

    np.testing.assert_array_equal(np.load(path, allow_pickle=False), features)


def test_versioned_saves_keep_both_versions(tmp_path, features):
    path = tmp_path / "x.npy"
    second = features * 2

    NumpyDataset(filepath=str(path), version=Version(None, FIRST_VERSION)).save(
        features
    )
    NumpyDataset(filepath=str(path), version=Version(None, SECOND_VERSION)).save(second)

    assert (path / FIRST_VERSION / "x.npy").is_file()
    assert (path / SECOND_VERSION / "x.npy").is_file()
    first_loaded = NumpyDataset(
        filepath=str(path), version=Version(FIRST_VERSION, None)
    ).load()
    np.testing.assert_array_equal(first_loaded, features)
    latest = NumpyDataset(filepath=str(path), version=Version(None, None))
    np.testing.assert_array_equal(latest.load(), second)
    assert latest.list_versions(full_path=False) == [SECOND_VERSION, FIRST_VERSION]


def test_versioned_save_refuses_existing_version(tmp_path, features):
    path = tmp_path / "x.npy"
    version = Version(None, FIRST_VERSION)
    NumpyDataset(filepath=str(path), version=version).save(features)

    with pytest.raises(DatasetError, match="must not exist if versioning is enabled"):
        NumpyDataset(filepath=str(path), version=version).save(features)


def test_object_array_is_rejected(tmp_path):
    path = tmp_path / "objects.npy"
    dataset = NumpyDataset(filepath=str(path))

    with pytest.raises(DatasetError) as excinfo:
        dataset.save(np.array([{"label": 1}, None], dtype=object))

    message = str(excinfo.value)
    assert str(path) in message
    assert "rejects arrays of dtype object" in message
    assert "needs pickle, which is disabled" in message
    assert not path.exists()


def test_non_array_is_rejected(tmp_path):
    path = tmp_path / "list.npy"

    with pytest.raises(DatasetError, match="expected a NumPy array, got list"):
        NumpyDataset(filepath=str(path)).save([1.0, 2.0])


def test_pickled_file_is_rejected_on_load(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"label": 1}], dtype=object), allow_pickle=True)

    with pytest.raises(DatasetError) as excinfo:
        NumpyDataset(filepath=str(path)).load()

    message = str(excinfo.value)
    assert str(path) in message
    assert "is not a valid .npy file without pickled objects" in message
    assert "allow_pickle=False" in message


def test_non_npy_file_is_rejected(tmp_path):
    path = tmp_path / "x.npy"
    path.write_text("x,y\n1,2\n")

    with pytest.raises(DatasetError) as excinfo:
        NumpyDataset(filepath=str(path)).load()

    message = str(excinfo.value)
    assert str(path) in message
    assert "is not a valid .npy file" in message
    assert "does not start with the .npy magic string" in message


def test_truncated_npy_is_rejected(tmp_path, features):
    path = tmp_path / "x.npy"
    np.save(path, features)
    path.write_bytes(path.read_bytes()[:-10])

    with pytest.raises(DatasetError) as excinfo:
        NumpyDataset(filepath=str(path)).load()

    message = str(excinfo.value)
    assert str(path) in message
    assert "is not a valid .npy file" in message


def test_missing_file_names_path(tmp_path):
    path = tmp_path / "x_train.npy"

    with pytest.raises(DatasetError) as excinfo:
        NumpyDataset(filepath=str(path)).load()

    message = str(excinfo.value)
    assert str(path) in message
    assert "not found" in message


def test_exists_follows_save(tmp_path, features):
    dataset = NumpyDataset(filepath=str(tmp_path / "x.npy"))

    assert not dataset.exists()
    dataset.save(features)
    assert dataset.exists()


def test_preview_shows_statistics_and_corner(tmp_path):
    array = np.arange(5 * 20, dtype=np.float32).reshape(5, 20) / 99
    dataset = NumpyDataset(filepath=str(tmp_path / "x.npy"))
    dataset.save(array)

    preview = json.loads(dataset.preview())

    assert preview["shape"] == [5, 20]
    assert preview["dtype"] == "float32"
    assert preview["min"] == 0.0
    assert preview["max"] == 1.0
    assert preview["mean"] == 0.5
    assert len(preview["head"]) == 3
    assert [len(row) for row in preview["head"]] == [10, 10, 10]
    assert preview["head"][1][:3] == [0.202, 0.2121, 0.2222]


def test_preview_of_labels_and_empty_arrays(tmp_path):
    labels = NumpyDataset(filepath=str(tmp_path / "labels.npy"))
    labels.save(np.arange(25, dtype=np.int64))
    empty = NumpyDataset(filepath=str(tmp_path / "empty.npy"))
    empty.save(np.zeros((0, 784), dtype=np.float32))

    labels_preview = json.loads(labels.preview())
    empty_preview = json.loads(empty.preview())

    assert labels_preview["head"] == list(range(10))
    assert labels_preview["max"] == 24
    assert empty_preview["shape"] == [0, 784]
    assert empty_preview["head"] == []
    assert "mean" not in empty_preview


def test_preview_replaces_nan_with_null(tmp_path):
    dataset = NumpyDataset(filepath=str(tmp_path / "x.npy"))
    dataset.save(np.array([[np.nan, 1.0]]))

    preview = json.loads(dataset.preview())

    assert preview["head"] == [[None, 1.0]]
    assert preview["mean"] is None


def test_save_leaves_no_temporary_files(tmp_path, features):
    dataset = NumpyDataset(filepath=str(tmp_path / "x.npy"))

    dataset.save(features)
    dataset.save(features + 1)

    assert [path.name for path in tmp_path.iterdir()] == ["x.npy"]


def test_interrupted_save_keeps_previous_file(tmp_path, features, monkeypatch):
    path = tmp_path / "x.npy"
    dataset = NumpyDataset(filepath=str(path))
    dataset.save(features)

    def write_half_then_fail(file, array, **kwargs):
        file.write(b"\x93NUMPY partial")
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", write_half_then_fail)
    with pytest.raises(DatasetError, match="disk full"):
        dataset.save(features + 1)
    monkeypatch.undo()

    assert [child.name for child in tmp_path.iterdir()] == ["x.npy"]
    np.testing.assert_array_equal(dataset.load(), features)


def test_interrupted_first_save_leaves_nothing(tmp_path, features, monkeypatch):
    def fail(file, array, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", fail)
    with pytest.raises(DatasetError, match="disk full"):
        NumpyDataset(filepath=str(tmp_path / "x.npy")).save(features)

    assert list(tmp_path.iterdir()) == []


def test_repr_names_file(tmp_path):
    path = tmp_path / "x.npy"

    assert str(path) in repr(NumpyDataset(filepath=str(path)))
