"""Signals the catalog sends; other apps subscribe (the catalog imports none of them).

``catalog_changed``: movies were added or changed and whoever sent it wants derived data
(the recommendation model) rebuilt. Sent with ``sender`` = the model class of the job that
changed the catalog and the keyword arguments ``triggered_by`` (str, for the receiver's own
records) and ``run`` (the ``SyncRun``, or None). A receiver may return an object with a ``pk``
(the job it queued, e.g. a model version) or None when it queued nothing; the sender records
the first such answer. Sent with ``send_robust``: a failing receiver never fails a sync.
"""

from django.dispatch import Signal

catalog_changed = Signal()
