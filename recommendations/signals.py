"""Signals the recommender's models send, so lower layers never import the serving code."""

from django.dispatch import Signal

# Sent on commit after a version became the active one (``version=``); the per-process model
# cache (loading.py) listens, so this process serves the new version at once.
version_activated = Signal()
