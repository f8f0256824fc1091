"""Path formatting shared by the project's datasets."""

from __future__ import annotations

import os
from pathlib import PurePosixPath


def format_path(protocol: str, path: PurePosixPath | str) -> str:
    """Format a dataset path for error messages.

    Local paths become absolute so the user sees exactly which file failed. Remote
    paths keep their protocol and lose any query string, which can carry a signature
    or token.

    Args:
        protocol: The fsspec protocol, such as ``file`` or ``s3``.
        path: The path without its protocol.

    Returns:
        The path as a user would type it.
    """
    posix_path = PurePosixPath(path).as_posix()
    if protocol == "file":
        return os.path.abspath(posix_path)

    without_query = posix_path.split("?", 1)[0]
    return f"{protocol}://{without_query}"
