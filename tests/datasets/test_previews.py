"""Kedro-Viz previews of datasets whose file does not exist yet."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from kedro.io.core import Version

from mnist_fnn.datasets import (
    CSVDataset,
    IDXDataset,
    JSONDataset,
    NetworkDataset,
    NumpyDataset,
    PlotlyJSONDataset,
)
from mnist_fnn.datasets._previews import NOT_WRITTEN_MESSAGE

UNVERSIONED = Version(None, None)


@pytest.mark.parametrize(
    ("dataset_class", "file_name"),
    [
        (NumpyDataset, "x_train.npy"),
        (NetworkDataset, "model.npz"),
        (JSONDataset, "metrics.json"),
    ],
)
def test_json_preview_before_first_save(tmp_path: Path, dataset_class, file_name):
    dataset = dataset_class(filepath=str(tmp_path / file_name), version=UNVERSIONED)

    preview = json.loads(dataset.preview())

    assert preview == {"message": NOT_WRITTEN_MESSAGE}


def test_table_preview_before_first_save(tmp_path: Path):
    dataset = CSVDataset(filepath=str(tmp_path / "history.csv"), version=UNVERSIONED)

    preview = dataset.preview(nrows=100)

    assert preview["columns"] == ["message"]
    assert preview["data"] == [[NOT_WRITTEN_MESSAGE]]


def test_plotly_preview_before_first_save(tmp_path: Path):
    dataset = PlotlyJSONDataset(
        filepath=str(tmp_path / "loss_curves.json"), version=UNVERSIONED
    )

    preview = dataset.preview()

    assert preview["data"] == []
    assert preview["layout"]["title"]["text"] == NOT_WRITTEN_MESSAGE


def test_table_preview_after_save(tmp_path: Path):
    dataset = CSVDataset(
        filepath=str(tmp_path / "history.csv"),
        version=UNVERSIONED,
        save_args={"index": False},
    )
    dataset.save(pd.DataFrame({"epoch": [1, 2, 3]}))

    preview = dataset.preview(nrows=2)

    assert preview["columns"] == ["epoch"]
    assert preview["data"] == [[1], [2]]


def test_idx_preview_of_missing_file(tmp_path: Path):
    missing = tmp_path / "train-labels-idx1-ubyte.gz"
    dataset = IDXDataset(filepath=str(missing))

    message = json.loads(dataset.preview())["message"]

    assert str(missing) in message
    assert "git checkout -- data/01_raw/mnist" in message
