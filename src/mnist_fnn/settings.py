"""Project settings. See https://docs.kedro.org/en/stable/configure/configuration_basics/
for the settings that Kedro reads from this module and their defaults."""

import warnings

from mnist_fnn.hooks import WandbHooks
from mnist_fnn.run_versions import ProjectContext
from mnist_fnn.safety_hooks import SafetyHooks

# Kedro 1.7 calls OmegaConf.register_new_resolver, which OmegaConf 2.4 deprecates, so
# every command would print the same two warnings that users cannot act on.
warnings.filterwarnings(
    "ignore",
    message=r"register_new_resolver\(\) is deprecated",
    category=UserWarning,
)

# Hooks run in last-in, first-out order, so SafetyHooks checks the parameters and
# output folders before WandbHooks starts recording.
HOOKS = (WandbHooks(), SafetyHooks())

# Gives every run a save version that no concurrent run of the project has.
CONTEXT_CLASS = ProjectContext

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # conf/<env>/wandb.yml contains the Weights & Biases settings that WandbHooks reads.
    "config_patterns": {"wandb": ["wandb*", "wandb*/**"]},
}
