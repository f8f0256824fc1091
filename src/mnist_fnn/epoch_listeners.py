"""Listeners that receive each epoch's record while a training node runs.

Kedro hooks (experiment tracking, for example) register a listener in
``before_node_run`` and remove it in ``after_node_run``, so the nodes need not know
who is listening. Kedro calls those hooks in the thread and process that run the
node, under every built-in runner. So the registry is per thread, and a listener
receives only the records of the node it was registered for, even when the thread
runner trains several configurations at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

EpochListener = Callable[[dict[str, Any]], None]

_registry = threading.local()


def _listeners() -> list[EpochListener]:
    if not hasattr(_registry, "listeners"):
        _registry.listeners = []
    return _registry.listeners


def add_epoch_listener(listener: EpochListener) -> None:
    """Register ``listener(record)`` to be called after every epoch in this thread."""
    _listeners().append(listener)


def remove_epoch_listener(listener: EpochListener) -> None:
    """Unregister a listener; removing one that is not registered does nothing."""
    listeners = _listeners()
    if listener in listeners:
        listeners.remove(listener)


def notify_epoch_end(record: dict[str, Any]) -> None:
    """Send one epoch's record to every listener registered in this thread."""
    for listener in list(_listeners()):
        listener(record)
