"""``NetworkDataset`` saves and loads a trained network as an ``.npz`` file."""

from __future__ import annotations

import json
from typing import IO, Any

from kedro.io.core import DatasetError
from kedro_datasets._typing import JSONPreview

from mnist_fnn.datasets._file_dataset import BinaryFileDataset
from mnist_fnn.datasets._previews import has_saved_file, missing_json_preview
from mnist_fnn.fnn import FeedForwardNetwork, load_network, save_network


class NetworkDataset(BinaryFileDataset[FeedForwardNetwork]):
    """Versioned dataset of one ``FeedForwardNetwork`` in the network's ``.npz`` format.

    The file contains the weights, biases, architecture and training configuration,
    and is read with ``allow_pickle=False``, so loading a file cannot run code.

    Examples:
        Catalog entry:

        ```yaml
        model:
          type: mnist_fnn.datasets.NetworkDataset
          filepath: data/06_models/model.npz
          versioned: true
        ```
    """

    _file_kind = "Network file"

    def _check(self, data: Any, display_path: str) -> None:
        if not isinstance(data, FeedForwardNetwork):
            raise DatasetError(
                f"NetworkDataset for '{display_path}' expected a FeedForwardNetwork, "
                f"got {type(data).__name__}."
            )

    def _write(self, file: IO[bytes], data: FeedForwardNetwork) -> None:
        save_network(data, file)

    def _read(self, file: IO[bytes], display_path: str) -> FeedForwardNetwork:
        try:
            return load_network(file)
        except ValueError as exc:
            raise DatasetError(
                f"Network file '{display_path}' cannot be loaded: {exc}"
            ) from exc

    def preview(self) -> JSONPreview:
        """Summarise the network for Kedro-Viz.

        Returns:
            A JSON object as a string with the architecture, the number of
            parameters, the shape of each layer's weights and the training
            parameters the network was trained with.
        """
        if not has_saved_file(self):
            return missing_json_preview()
        network = self.load()
        training_config = network.training_config
        summary = {
            "architecture": network.architecture(),
            "parameter_count": int(network.parameters.size),
            "layers": [list(weights.shape) for weights in network.weights],
            "training_parameters": training_config.get("parameters", {}),
        }
        return JSONPreview(json.dumps(summary))
