"""The mnist_fnn settings, so the tests exercise its hooks and config patterns."""

from mnist_fnn.settings import CONFIG_LOADER_ARGS, HOOKS

__all__ = ["CONFIG_LOADER_ARGS", "HOOKS"]
