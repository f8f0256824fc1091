"""Saves that fail midway leave neither a partial file nor a temporary one, and
nothing under data/ is read with pickle."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import yaml
from kedro.io.core import DatasetError, Version

from mnist_fnn.datasets import (
    CSVDataset,
    JSONDataset,
    NetworkDataset,
    PlotlyJSONDataset,
)
from tests.conftest import PROJECT_ROOT


class _Unserialisable:
    """Fails JSON encoding after part of the document has been written."""


def test_failed_json_save_leaves_nothing(tmp_path):
    dataset = JSONDataset(
        filepath=str(tmp_path / "metrics.json"), version=Version(None, "v1")
    )

    with pytest.raises(DatasetError, match="not JSON serializable"):
        dataset.save({"accuracy": 0.9, "model": _Unserialisable()})

    assert list(tmp_path.rglob("*")) == [tmp_path / "metrics.json"]


def test_interrupted_csv_save_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "history.csv"
    dataset = CSVDataset(filepath=str(path))

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", interrupt)
    with pytest.raises(KeyboardInterrupt):
        dataset.save(pd.DataFrame({"epoch": [1]}))

    assert list(tmp_path.iterdir()) == []


def test_saves_round_trip(tmp_path):
    JSONDataset(filepath=str(tmp_path / "a.json")).save({"a": 1})
    CSVDataset(filepath=str(tmp_path / "b.csv"), save_args={"index": False}).save(
        pd.DataFrame({"epoch": [1, 2]})
    )
    PlotlyJSONDataset(filepath=str(tmp_path / "c.json")).save(go.Figure())

    assert JSONDataset(filepath=str(tmp_path / "a.json")).load() == {"a": 1}
    assert CSVDataset(filepath=str(tmp_path / "b.csv")).load()["epoch"].tolist() == [
        1,
        2,
    ]
    assert isinstance(
        PlotlyJSONDataset(filepath=str(tmp_path / "c.json")).load(), go.Figure
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "a.json",
        "b.csv",
        "c.json",
    ]


def catalog_types() -> dict[str, str]:
    types = {}
    for path in sorted((PROJECT_ROOT / "conf").rglob("catalog*.yml")):
        for name, entry in (yaml.safe_load(path.read_text()) or {}).items():
            if isinstance(entry, dict) and "type" in entry:
                types[f"{path.name}:{name}"] = entry["type"]
    return types


def test_catalog_has_no_pickle_dataset():
    types = catalog_types()
    assert types
    pickled = {name: kind for name, kind in types.items() if "pickle" in kind.lower()}
    assert pickled == {}
    for path in (PROJECT_ROOT / "conf").rglob("catalog*.yml"):
        assert "allow_pickle" not in path.read_text(), path


def test_network_file_with_objects_is_rejected(tmp_path):
    path = tmp_path / "model.npz"
    buffer = io.BytesIO()
    np.savez(buffer, weights=np.array([{"code": 1}], dtype=object))
    path.write_bytes(buffer.getvalue())

    with pytest.raises(DatasetError, match="cannot be loaded") as raised:
        NetworkDataset(filepath=str(path)).load()
    assert str(path) in str(raised.value)


def test_saved_network_loads_without_pickle(tmp_path):
    from mnist_fnn.fnn import FeedForwardNetwork  # noqa: PLC0415

    path = Path(tmp_path / "model.npz")
    NetworkDataset(filepath=str(path)).save(FeedForwardNetwork(4, [3], 2, rng=0))

    with np.load(path, allow_pickle=False) as archive:
        assert all(archive[name].dtype != object for name in archive.files)
