"""Saving and loading networks as ``.npz`` archives without pickle.

An archive contains ``format_version`` (0-d int64), ``metadata`` (0-d unicode array with
a JSON object of ``architecture`` and ``training_config``) and, for each layer ``l``
counted from 0, ``weights_l`` and ``biases_l``.
"""

import json
import os
import zipfile
import zlib
from typing import IO, Any

import numpy as np

from mnist_fnn.fnn.network import FeedForwardNetwork

FORMAT_VERSION = 1
"""Version of the archive layout written by ``save_network``."""

_RECREATE_HINT = (
    "Use a file written by save_network, or re-run training to recreate it."
)


def _describe(file: str | os.PathLike | IO[bytes]) -> str:
    if isinstance(file, str | os.PathLike):
        return os.fspath(file)
    return str(getattr(file, "name", "<file object>"))


def save_network(
    network: FeedForwardNetwork, file: str | os.PathLike | IO[bytes]
) -> None:
    """Write the network's parameters, architecture and training settings.

    Args:
        network: The network to save.
        file: Path, written as given (no ``.npz`` suffix is added), or a writable
            binary file object.
    """
    metadata = {
        "architecture": network.architecture(),
        "training_config": network.training_config,
    }
    arrays: dict[str, np.ndarray] = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "metadata": np.array(json.dumps(metadata, sort_keys=True), dtype=np.str_),
    }
    for layer, (weights, biases) in enumerate(
        zip(network.weights, network.biases, strict=True)
    ):
        arrays[f"weights_{layer}"] = weights
        arrays[f"biases_{layer}"] = biases

    # np.savez appends ".npz" to a path without it, so the file is opened here to keep
    # the path the caller chose.
    if isinstance(file, str | os.PathLike):
        with open(file, "wb") as handle:
            np.savez(handle, **arrays)
    else:
        np.savez(file, **arrays)


class _InvalidArchive(Exception):
    """Internal: the archive was read but its content is not a saved network."""


def _read_metadata(archive: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    for key in ("format_version", "metadata"):
        if key not in archive.files:
            raise _InvalidArchive(f"the array {key!r} is missing")

    version = archive["format_version"]
    if version.shape != () or not np.issubdtype(version.dtype, np.integer):
        raise _InvalidArchive("format_version is not an integer scalar")
    if int(version) != FORMAT_VERSION:
        raise _InvalidArchive(
            f"format version {int(version)} is not supported "
            f"(this version of mnist_fnn reads version {FORMAT_VERSION})"
        )

    text = archive["metadata"]
    if text.shape != () or text.dtype.kind != "U":
        raise _InvalidArchive("metadata is not a 0-d unicode array")
    try:
        metadata = json.loads(str(text))
    except json.JSONDecodeError as error:
        raise _InvalidArchive(f"metadata is not valid JSON ({error})") from None
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("architecture"), dict)
        or not isinstance(metadata.get("training_config"), dict)
    ):
        raise _InvalidArchive(
            "metadata lacks the 'architecture' or 'training_config' object"
        )
    return metadata["architecture"], metadata["training_config"]


def _build_network(archive: Any) -> FeedForwardNetwork:
    architecture, training_config = _read_metadata(archive)
    try:
        network = FeedForwardNetwork(**architecture)
    except (TypeError, ValueError) as error:
        raise _InvalidArchive(f"the stored architecture is invalid ({error})") from None

    expected = {"format_version", "metadata"}
    for layer, (weights, biases) in enumerate(
        zip(network.weights, network.biases, strict=True)
    ):
        for key, target in ((f"weights_{layer}", weights), (f"biases_{layer}", biases)):
            expected.add(key)
            if key not in archive.files:
                raise _InvalidArchive(f"the array {key!r} is missing")
            stored = archive[key]
            if stored.shape != target.shape or stored.dtype != target.dtype:
                raise _InvalidArchive(
                    f"{key} has shape {stored.shape} and dtype {stored.dtype}, but the "
                    f"architecture needs shape {target.shape} and dtype {target.dtype}"
                )
            target[...] = stored

    unexpected = sorted(set(archive.files) - expected)
    if unexpected:
        raise _InvalidArchive(f"it contains unexpected arrays {unexpected}")
    network.training_config = training_config
    return network


def load_network(file: str | os.PathLike | IO[bytes]) -> FeedForwardNetwork:
    """Read a network written by ``save_network``.

    The loaded parameters are bit-identical to the saved ones, so predictions match
    exactly. The network's random generator is freshly seeded from the operating
    system, so pass ``rng`` to ``train`` to continue training reproducibly.

    Args:
        file: Path or readable binary file object.

    Returns:
        The network, with ``training_config`` restored.

    Raises:
        FileNotFoundError: If the path does not exist.
        ValueError: If the file is not a valid archive or does not describe a network;
            the message names the file and the problem.
    """
    name = _describe(file)
    if isinstance(file, str | os.PathLike):
        # np.load leaves a file it opened itself unclosed when the zip directory is
        # damaged, so the path is opened here.
        with open(file, "rb") as handle:
            return _load_archive(handle, name)
    return _load_archive(file, name)


def _load_archive(file: IO[bytes], name: str) -> FeedForwardNetwork:
    try:
        archive = np.load(file, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise _InvalidArchive(
                "it contains a single .npy array, not an .npz archive"
            )
        with archive:
            return _build_network(archive)
    except _InvalidArchive as error:
        raise ValueError(
            f"Cannot load network from {name!r}: {error}. {_RECREATE_HINT}"
        ) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(
            f"Cannot load network from {name!r}: the file is not a readable .npz "
            f"archive or is damaged ({type(error).__name__}: {error}). {_RECREATE_HINT}"
        ) from error
