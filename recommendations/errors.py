"""The recommender's exceptions: one base class, so callers can catch "the recommender said no"
without knowing which part refused."""

from __future__ import annotations

from netflixrecs.jobs.models import JobAlreadyRunning


class RecommenderError(Exception):
    """Base class of every error the recommender raises on purpose."""


class InvalidRequest(RecommenderError):
    """A request to the recommender is malformed (e.g. ``top_n`` out of range)."""


class VersionError(RecommenderError):
    """An operation on a model version is not allowed (e.g. activating a failed one)."""


class BuildAlreadyRunning(RecommenderError, JobAlreadyRunning):
    """Single-flight: another build is queued or running (``running`` is that version).

    Raised by the job base (``ModelVersion.already_running_error``) with the message of
    ``ModelVersion.already_running_message``.
    """


class BuildError(RecommenderError):
    """A stage of a model build found its work incomplete (a missing block, a lost plan)."""
