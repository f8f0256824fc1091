"""The configurations and the MNIST files of the epoch-time benchmark.

``epoch_time.parse_arguments`` checks the options against these names before NumPy
loads, because OpenBLAS reads its thread count when NumPy loads it. So this module
imports neither NumPy nor a module that does.
"""

from dataclasses import dataclass

INPUT_SIZE = 784
OUTPUT_SIZE = 10


@dataclass(frozen=True)
class Configuration:
    """One recommended network: hidden widths, optimizer name and learning rate."""

    name: str
    hidden_sizes: tuple[int, ...]
    optimizer: str
    learning_rate: float

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Widths of all layers, input first."""
        return (INPUT_SIZE, *self.hidden_sizes, OUTPUT_SIZE)


CONFIGURATIONS = (
    Configuration("Rec_1_Balanced_Adam", (128, 128, 128), "adam", 0.001),
    Configuration("Rec_2_Deep_Nadam", (128,) * 5, "nadam", 0.001),
    Configuration("Rec_3_Light_Adam", (64, 64), "adam", 0.001),
)
CONFIGURATION_NAMES = tuple(configuration.name for configuration in CONFIGURATIONS)

TRAIN_IMAGES_FILE = "train-images-idx3-ubyte.gz"
TRAIN_LABELS_FILE = "train-labels-idx1-ubyte.gz"
TEST_IMAGES_FILE = "t10k-images-idx3-ubyte.gz"
TEST_LABELS_FILE = "t10k-labels-idx1-ubyte.gz"
MNIST_FILES = (TRAIN_IMAGES_FILE, TRAIN_LABELS_FILE, TEST_IMAGES_FILE, TEST_LABELS_FILE)
"""The gzip IDX files that ``_report.load_data`` reads from the data directory."""
