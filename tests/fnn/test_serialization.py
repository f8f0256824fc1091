"""Saving and loading networks: round trips and clear errors for bad files."""

import io
import json
import zipfile

import numpy as np
import pytest

from mnist_fnn.fnn import (
    FORMAT_VERSION,
    FeedForwardNetwork,
    load_network,
    save_network,
    train,
)


@pytest.fixture
def trained():
    rng = np.random.default_rng(0)
    x = rng.random((50, 12), dtype=np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 50)]
    network = FeedForwardNetwork(12, (9, 7), 4, activation="tanh", rng=0)
    train(network, x, y, epochs=2, batch_size=16, optimizer="nadam", weight_decay=0.01)
    return network, x


def assert_same_network(
    loaded: FeedForwardNetwork, network: FeedForwardNetwork, x
) -> None:
    assert loaded.architecture() == network.architecture()
    assert loaded.training_config == network.training_config
    assert loaded.parameters.dtype == network.parameters.dtype
    np.testing.assert_array_equal(loaded.parameters, network.parameters)
    np.testing.assert_array_equal(loaded.predict_proba(x), network.predict_proba(x))


def test_round_trip_path(trained, tmp_path):
    network, x = trained
    path = tmp_path / "network.npz"

    save_network(network, path)

    assert_same_network(load_network(path), network, x)
    assert_same_network(load_network(str(path)), network, x)


def test_round_trip_file_object(trained):
    network, x = trained
    buffer = io.BytesIO()

    save_network(network, buffer)
    buffer.seek(0)

    assert_same_network(load_network(buffer), network, x)


def test_round_trip_float64(tmp_path):
    network = FeedForwardNetwork(
        5, (), 3, dtype="float64", initialization="random", rng=2
    )
    x = np.random.default_rng(1).normal(size=(4, 5))

    save_network(network, tmp_path / "model.npz")

    assert_same_network(load_network(tmp_path / "model.npz"), network, x)


def test_path_kept_without_suffix(trained, tmp_path):
    network, _ = trained

    save_network(network, tmp_path / "model.bin")

    assert (tmp_path / "model.bin").is_file()
    assert not (tmp_path / "model.bin.npz").exists()


def test_archive_layout(trained, tmp_path):
    network, _ = trained
    save_network(network, tmp_path / "network.npz")

    with np.load(tmp_path / "network.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == [
            "biases_0",
            "biases_1",
            "biases_2",
            "format_version",
            "metadata",
            "weights_0",
            "weights_1",
            "weights_2",
        ]
        assert int(archive["format_version"]) == FORMAT_VERSION
        metadata = json.loads(str(archive["metadata"]))
        assert archive["metadata"].shape == ()
    assert metadata["architecture"]["hidden_sizes"] == [9, 7]
    assert metadata["training_config"]["optimizer"] == "nadam"


def rewrite_archive(source, target, drop=(), replace=None):
    """Copy an archive's arrays, leaving some out or replacing some."""
    with np.load(source, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files if key not in drop}
    arrays.update(replace or {})
    with open(target, "wb") as handle:
        np.savez(handle, **arrays)


@pytest.fixture
def saved(trained, tmp_path):
    path = tmp_path / "network.npz"
    save_network(trained[0], path)
    return path


def test_random_bytes_rejected(tmp_path):
    path = tmp_path / "corrupt.npz"
    path.write_bytes(np.random.default_rng(0).bytes(500))

    with pytest.raises(ValueError) as error:
        load_network(path)

    message = str(error.value)
    assert message.startswith(
        f"Cannot load network from '{path}': the file is not a readable"
    )
    assert "re-run training to recreate it" in message


def test_text_file_rejected(tmp_path):
    path = tmp_path / "network.npz"
    path.write_text("weights: [1, 2, 3]\n")

    with pytest.raises(
        ValueError, match=r"is not a readable \.npz archive or is damaged"
    ):
        load_network(path)


def test_empty_file_rejected(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")

    with pytest.raises(ValueError, match="Cannot load network from .*empty.npz"):
        load_network(path)


def test_truncated_file_rejected(saved, tmp_path):
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])

    with pytest.raises(ValueError) as error:
        load_network(truncated)

    assert f"'{truncated}'" in str(error.value)
    assert "damaged" in str(error.value)


def test_flipped_byte_rejected(saved):
    data = bytearray(saved.read_bytes())
    # Inside the stored weights_0 data, so the member's CRC-32 no longer matches.
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo("weights_0.npy")
    data[info.header_offset + 200] ^= 0xFF
    saved.write_bytes(bytes(data))

    with pytest.raises(ValueError, match=r"damaged \(BadZipFile: Bad CRC-32"):
        load_network(saved)


def test_npy_file_rejected(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.zeros(3))

    with pytest.raises(
        ValueError, match=r"contains a single \.npy array, not an \.npz archive"
    ):
        load_network(path)


def test_missing_array_rejected(saved, tmp_path):
    broken = tmp_path / "broken.npz"
    rewrite_archive(saved, broken, drop=("biases_1",))

    with pytest.raises(ValueError) as error:
        load_network(broken)

    assert str(error.value) == (
        f"Cannot load network from '{broken}': the array 'biases_1' is missing. "
        "Use a file written by save_network, or re-run training to recreate it."
    )


def test_missing_metadata_rejected(saved, tmp_path):
    broken = tmp_path / "broken.npz"
    rewrite_archive(saved, broken, drop=("metadata",))

    with pytest.raises(ValueError, match="the array 'metadata' is missing"):
        load_network(broken)


def test_wrong_shape_rejected(saved, tmp_path):
    broken = tmp_path / "broken.npz"
    rewrite_archive(saved, broken, replace={"weights_1": np.zeros((9, 6), np.float32)})

    with pytest.raises(
        ValueError, match=r"weights_1 has shape \(9, 6\) .* needs shape \(9, 7\)"
    ):
        load_network(broken)


def test_wrong_dtype_rejected(saved, tmp_path):
    broken = tmp_path / "broken.npz"
    rewrite_archive(saved, broken, replace={"biases_0": np.zeros(9, np.float64)})

    with pytest.raises(ValueError, match="biases_0 has shape .* dtype float64"):
        load_network(broken)


def test_unsupported_version_rejected(saved, tmp_path):
    broken = tmp_path / "broken.npz"
    rewrite_archive(saved, broken, replace={"format_version": np.array(99)})

    with pytest.raises(ValueError, match="format version 99 is not supported"):
        load_network(broken)


def test_invalid_metadata_rejected(saved, tmp_path):
    broken = tmp_path / "broken.npz"
    rewrite_archive(saved, broken, replace={"metadata": np.array("{not json")})

    with pytest.raises(ValueError, match="metadata is not valid JSON"):
        load_network(broken)


def test_invalid_architecture_rejected(saved, tmp_path):
    broken = tmp_path / "broken.npz"
    metadata = {
        "architecture": {"input_size": 12, "hidden_sizes": [0]},
        "training_config": {},
    }
    rewrite_archive(saved, broken, replace={"metadata": np.array(json.dumps(metadata))})

    with pytest.raises(
        ValueError, match=r"the stored architecture is invalid \(Invalid hidden_sizes"
    ):
        load_network(broken)


def test_extra_array_rejected(saved, tmp_path):
    broken = tmp_path / "broken.npz"
    rewrite_archive(saved, broken, replace={"weights_3": np.zeros((7, 4), np.float32)})

    with pytest.raises(ValueError, match=r"unexpected arrays \['weights_3'\]"):
        load_network(broken)


def test_file_object_name_in_message(tmp_path):
    path = tmp_path / "garbage.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip archive")

    with open(path, "rb") as handle, pytest.raises(ValueError) as error:
        load_network(handle)

    assert f"Cannot load network from '{path}'" in str(error.value)


def test_unnamed_file_object_in_message():
    with pytest.raises(ValueError, match="Cannot load network from '<file object>'"):
        load_network(io.BytesIO(b"garbage"))


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_network(tmp_path / "absent.npz")
