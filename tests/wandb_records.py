"""Read the records of an offline W&B run from its ``run-<id>.wandb`` file.

wandb 0.31 has no Python reader for this file. Its layout is a 7-byte header
(``:W&B``, 0xE1 0xBE, version 0) followed by 32 KiB blocks of LevelDB-log records.
Each record has a little-endian ``<I crc, H length, B type>`` header, and a record
that does not fit in a block is split into FIRST, MIDDLE and LAST parts. A block
tail shorter than a record header is padding. The joined payloads are
``wandb_internal_pb2.Record`` protobufs.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

FILE_HEADER = b":W&B\xe1\xbe\x00"
BLOCK_SIZE = 32 * 1024
RECORD_HEADER = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def read_records(path: Path) -> list[wandb_internal_pb2.Record]:
    """Parse every record of a ``.wandb`` file, in the order they were written.

    Raises:
        ValueError: If the file header or a record type is invalid.
    """
    data = Path(path).read_bytes()
    if data[: len(FILE_HEADER)] != FILE_HEADER:
        raise ValueError(f"{path} does not start with the W&B header {FILE_HEADER!r}")

    payloads: list[bytes] = []
    fragments: list[bytes] = []
    position = len(FILE_HEADER)
    while position < len(data):
        block_left = BLOCK_SIZE - position % BLOCK_SIZE
        if block_left < RECORD_HEADER.size:
            position += block_left
            continue

        _, length, record_type = RECORD_HEADER.unpack_from(data, position)
        start = position + RECORD_HEADER.size
        payload = data[start : start + length]
        position = start + length

        if record_type == 0 and length == 0:
            # An all-zero header marks unused space at the end of a block.
            continue
        if record_type == FULL:
            payloads.append(payload)
        elif record_type == FIRST:
            fragments = [payload]
        elif record_type == MIDDLE:
            fragments.append(payload)
        elif record_type == LAST:
            payloads.append(b"".join([*fragments, payload]))
            fragments = []
        else:
            raise ValueError(f"Invalid record type {record_type} at byte {position}")

    records = []
    for payload in payloads:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        records.append(record)
    return records


@dataclass
class OfflineRun:
    """What one offline run folder recorded, decoded from its records."""

    folder: Path
    run_id: str
    name: str
    tags: list[str]
    config: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    artifacts: list[wandb_internal_pb2.ArtifactRecord] = field(default_factory=list)


def read_offline_run(folder: Path) -> OfflineRun:
    """Decode the run record, history rows, summary, exit code and artifacts."""
    (path,) = Path(folder).glob("run-*.wandb")
    run = None
    for record in read_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run" and run is None:
            run = OfflineRun(
                folder=Path(folder),
                run_id=record.run.run_id,
                name=record.run.display_name,
                tags=list(record.run.tags),
                config={
                    item.key: json.loads(item.value_json)
                    for item in record.run.config.update
                },
            )
        elif run is None:
            continue
        elif kind == "history":
            run.history.append(_items(record.history.item))
        elif kind == "summary":
            run.summary.update(_items(record.summary.update))
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
        elif kind == "artifact":
            run.artifacts.append(record.artifact)
    if run is None:
        raise ValueError(f"{path} has no run record")
    return run


def read_offline_runs(runs_folder: Path) -> list[OfflineRun]:
    """Decode every ``offline-run-*`` folder under a ``wandb/`` folder, oldest first."""
    return [
        read_offline_run(folder)
        for folder in sorted(Path(runs_folder).glob("offline-run-*"))
    ]


def _items(items) -> dict[str, Any]:
    """Map each item's key, or its nested key joined by '/', to its JSON value."""
    values = {}
    for item in items:
        key = item.key or "/".join(item.nested_key)
        values[key] = json.loads(item.value_json)
    return values
