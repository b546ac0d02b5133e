"""The recommender's exceptions: one base class, so callers can catch "the recommender said no"
without knowing which part refused."""

from __future__ import annotations


class RecommenderError(Exception):
    """Base class of every error the recommender raises on purpose."""


class InvalidRequest(RecommenderError):
    """A request to the recommender is malformed (e.g. ``top_n`` out of range)."""


class VersionError(RecommenderError):
    """An operation on a model version is not allowed (e.g. activating a failed one)."""


class BuildAlreadyRunning(RecommenderError):
    """Single-flight: another build is queued or running."""

    def __init__(self, running=None):
        self.running = running
        which = f" (version {running.pk}, {running.status})" if running else ""
        super().__init__(f"A build is already running{which}; not starting another one.")
