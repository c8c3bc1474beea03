"""Typed errors of the library. Each carries the exit code the CLI returns for it.

Library code raises these (chained with ``from``); the CLI translates them into one-line messages in one place.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_TEMPFAIL = 75


class AnonymizerError(Exception):
    """Base class: a failure the user can understand and act on."""

    exit_code = EXIT_ERROR


class ConfigError(AnonymizerError):
    """A configuration file or option is invalid. ``problems``: each problem on a line of its own, when several
    were found at once (the message joins them)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str = "", problems: list[str] | tuple[str, ...] = ()) -> None:
        self.problems = tuple(problems)
        super().__init__(message or "\n".join(self.problems))


class ModelError(AnonymizerError):
    """A detection model is missing, corrupt or unusable."""


class MediaError(AnonymizerError):
    """A media file cannot be read or written (corrupt, truncated, empty, not a video)."""


class OutputExistsError(AnonymizerError):
    """The output exists and overwriting was not asked for."""


class VerificationError(AnonymizerError):
    """An output failed verification (frame count, timestamps, residual detections)."""


class LockedError(AnonymizerError):
    """Another process holds the lock; try again later."""

    exit_code = EXIT_TEMPFAIL


class ClusterError(AnonymizerError):
    """The Dask scheduler cannot be reached, or the cluster cannot run the batch."""


class CatalogueError(AnonymizerError):
    """The catalogue cannot be opened, migrated or written, or a record is missing."""


class ReadOnlyError(CatalogueError):
    """The archive or its catalogue cannot be written (a filesystem remounted read-only, another user's archive):
    trying again will not help."""


class ClipError(AnonymizerError):
    """One clip of a batch cannot be registered (unknown camera, bad sidecar, time in the future, duplicate)."""


class DuplicateClipError(ClipError):
    """The same content (sha256) is already registered under another path."""


class TimeSourceError(ClipError):
    """A recording time cannot be read or is implausible (unparseable sidecar, time in the future)."""


class AuditError(AnonymizerError):
    """The audit log's chain is broken: an event was changed, removed or inserted."""
