"""Save versions that no two runs of one project share.

Kedro names a run's save version after the UTC time its session starts, to the
millisecond (``kedro.io.core.generate_timestamp`` in Kedro 1.7). Two ``kedro run``
started in the same millisecond would then write the same version folders, and
the later save would replace the earlier one. ``ProjectContext`` claims each save
version by creating ``data/.save_versions/<version>``, which only one process can
create, and moves to the next millisecond while a version is taken.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kedro.framework.context import KedroContext
from kedro.io.core import VERSION_FORMAT

logger = logging.getLogger(__name__)

CLAIMS_FOLDER = Path("data") / ".save_versions"

# Claims older than this are deleted. A run claims its version within seconds of
# its session starting, so an older claim can no longer clash.
CLAIM_LIFETIME = timedelta(hours=1)

# Upper bound on the milliseconds tried, far above the number of runs that can
# start at once on one machine.
MAX_ATTEMPTS = 1000


def parse_version(version: str) -> datetime:
    """Parse a Kedro save version such as ``2026-12-04T20.22.06.123Z``.

    Raises:
        ValueError: If ``version`` is not in that format.
    """
    # The version keeps milliseconds only; %f reads them as a fraction.
    return datetime.strptime(version, VERSION_FORMAT).replace(tzinfo=UTC)


def format_version(moment: datetime) -> str:
    """Format a UTC time as a Kedro save version, to the millisecond."""
    text = moment.strftime(VERSION_FORMAT)
    return text[:-4] + text[-1:]


def claim_save_version(claims_folder: Path, proposed: str) -> str:
    """Claim ``proposed``, or the first later millisecond that no run has claimed.

    Args:
        claims_folder: Folder of the claims, shared by every run of the project.
        proposed: The save version Kedro generated for this run.

    Returns:
        The claimed version. It is ``proposed`` when that is free, when it is not a
        timestamp, or when ``claims_folder`` cannot be written, which a warning
        reports.
    """
    try:
        moment = parse_version(proposed)
    except ValueError:
        return proposed

    try:
        claims_folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        logger.warning(
            "Cannot record save version %s in %s (%s), so a run started in the same "
            "millisecond could write the same version folders",
            proposed,
            claims_folder,
            exc,
        )
        return proposed

    _delete_old_claims(claims_folder, moment - CLAIM_LIFETIME)
    for _ in range(MAX_ATTEMPTS):
        version = format_version(moment)
        try:
            (claims_folder / version).mkdir()
        except FileExistsError:
            moment += timedelta(milliseconds=1)
            continue
        if version != proposed:
            logger.info(
                "Save version %s is taken by another run, so this run saves as %s",
                proposed,
                version,
            )
        return version

    raise RuntimeError(
        f"Could not claim a save version in {claims_folder}: the {MAX_ATTEMPTS} "
        f"milliseconds from {proposed} are all taken. Delete the folders in "
        f"{claims_folder} and run again."
    )


def _delete_old_claims(claims_folder: Path, oldest_kept: datetime) -> None:
    for claim in claims_folder.iterdir():
        try:
            expired = parse_version(claim.name) < oldest_kept
        except ValueError:
            continue
        if expired:
            # Another run may be deleting the same claim.
            with contextlib.suppress(OSError):
                claim.rmdir()


class ProjectContext(KedroContext):
    """Kedro context whose run catalogs save under a version no other run has."""

    def _get_catalog(
        self,
        catalog_class: type | None = None,
        save_version: str | None = None,
        load_versions: dict[str, str] | None = None,
    ) -> Any:
        # Only `kedro run` passes a save version. Other callers, such as
        # `context.catalog` in a notebook, get the catalog unchanged.
        if save_version is not None:
            save_version = claim_save_version(
                Path(self.project_path) / CLAIMS_FOLDER, save_version
            )
        arguments: dict[str, Any] = {
            "save_version": save_version,
            "load_versions": load_versions,
        }
        if catalog_class is not None:
            arguments["catalog_class"] = catalog_class
        return super()._get_catalog(**arguments)
