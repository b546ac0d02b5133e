"""The abstract ``Job`` model: one row per run of something long (a TMDB sync, a model build).

What every job gets from here:

* **single-flight by the database**: a partial unique constraint allows one queued-or-running
  row per ``single_flight_key``; ``enqueue``/``begin`` turn the violation into
  ``JobAlreadyRunning``;
* **claiming**: ``claim()`` is one conditional UPDATE, so of two deliveries of the same task
  exactly one proceeds;
* **a lease that dies with its process**: ``lease()`` is held while the work runs. On
  PostgreSQL it is a session-level advisory lock on a dedicated connection, released by the
  server when the process dies; everywhere a heartbeat thread refreshes ``heartbeat_at``;
* **stale expiry in one place**: ``JobQuerySet.stale()`` / ``expire_stale()``, called before
  every enqueue and by the beat task ``netflixrecs.jobs.tasks.expire_stale_jobs``;
* **throttled progress**: ``report_progress(done, total, message)``.

Holders take the advisory lock in *shared* mode and the staleness probe tries it in exclusive
mode: a fan-out job (several chunk tasks of one run on several workers) holds one lease per
chunk, and the job is alive as long as any of them is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import threading
import time
import zlib
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, models, router, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

logger = logging.getLogger(__name__)

# report_progress writes at most this often (seconds); the admin polls every 2 s.
PROGRESS_WRITE_INTERVAL = 0.5
# Monotonic clock of the progress throttle (tests replace it instead of sleeping).
clock = time.monotonic


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


IN_PROGRESS = (JobStatus.QUEUED, JobStatus.RUNNING)


class JobAlreadyRunning(Exception):
    """Another job with the same single-flight key is queued or running.

    ``str(exc)`` is meant for people; ``running`` is the blocking job (None when it finished
    between the refused insert and the look-up).
    """

    def __init__(self, message: str, *, running: Job | None = None):
        super().__init__(message)
        self.message = message
        self.running = running


def heartbeat_seconds() -> float:
    return float(getattr(settings, "JOB_HEARTBEAT_SECONDS", 5))


def stale_seconds() -> float:
    return float(getattr(settings, "JOB_STALE_SECONDS", 45))


def queued_timeout_seconds() -> float:
    return float(getattr(settings, "JOB_QUEUED_TIMEOUT", 3600))


def new_lease_owner() -> str:
    """``host:pid:random``: which process holds a job, readable in the admin."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{secrets.token_hex(4)}"


def _is_postgres(alias: str) -> bool:
    return connections[alias].vendor == "postgresql"


def _lock_keys(model, pk: int) -> tuple[int, int]:
    """The two int4 keys of a job's advisory lock: a stable hash of its table, and its pk.

    crc32 (not hash()) so every process computes the same key; both folded into signed int4.
    Primary keys beyond 2**31 wrap, which only makes two jobs 2 billion rows apart share a lock.
    """
    table = zlib.crc32(model._meta.db_table.encode()) & 0x7FFFFFFF
    return table, int(pk) & 0x7FFFFFFF


def lease_is_free(model, pk: int, *, using: str) -> bool:
    """PostgreSQL: nobody holds the job's lease (we could take it exclusively; released at once)."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", _lock_keys(model, pk))
        free = cursor.fetchone()[0]
        if free:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", _lock_keys(model, pk))
    return bool(free)


def job_models() -> list[type[Job]]:
    """Every concrete Job subclass of the installed apps (the registry is the list)."""
    return [m for m in apps.get_models() if issubclass(m, Job) and not m._meta.abstract]


class JobQuerySet(models.QuerySet):
    def in_progress(self):
        return self.filter(status__in=IN_PROGRESS)

    def finished(self):
        return self.exclude(status__in=IN_PROGRESS)

    def _never_started(self):
        cutoff = timezone.now() - timedelta(seconds=queued_timeout_seconds())
        return self.filter(status=JobStatus.QUEUED, created_at__lt=cutoff)

    def _silent(self, seconds: float):
        """Running jobs whose last sign of life is older than ``seconds``."""
        cutoff = timezone.now() - timedelta(seconds=seconds)
        return self.alias(last_seen=Coalesce("heartbeat_at", "started_at", "created_at")).filter(
            status=JobStatus.RUNNING, last_seen__lt=cutoff
        )

    def _dead_running(self):
        if _is_postgres(self.db):
            # The lock is the truth; the short grace covers the moment between claim() and
            # taking the lock, when the lock is free but the job is alive.
            candidates = self._silent(self.model.lease_grace_seconds())
            dead = [
                pk
                for pk in candidates.values_list("pk", flat=True)
                if lease_is_free(self.model, pk, using=self.db)
            ]
            return self.filter(pk__in=dead)
        return self._silent(stale_seconds())

    def stale(self):
        """Running jobs whose lease died, and queued jobs no worker picked up in time."""
        return self._never_started() | self._dead_running()

    def expire_stale(self) -> int:
        """Mark stale jobs failed, with an error saying why; returns how many.

        The UPDATEs repeat the age conditions, so a job claimed again (or that sent a
        heartbeat) since it was found stale is left alone.
        """
        now = timezone.now()
        queued = self._never_started().update(
            status=JobStatus.FAILED,
            finished_at=now,
            updated_at=now,
            error=(
                f"Never started: queued for more than {queued_timeout_seconds():.0f} s "
                "without a worker picking it up."
            ),
        )
        dead = self._dead_running()
        if _is_postgres(self.db):
            dead = dead._silent(self.model.lease_grace_seconds())
        running = dead.update(
            status=JobStatus.FAILED,
            finished_at=now,
            updated_at=now,
            error=(
                "The process running it went away (killed or crashed) before it finished; "
                "start it again."
            ),
        )
        if queued or running:
            logger.warning(
                "%s: expired %s never-started and %s dead job(s)",
                self.model._meta.label,
                queued,
                running,
            )
        return queued + running

    def _create_single_flight(self, fields: dict):
        self.expire_stale()
        key = fields.get("single_flight_key", "default")
        try:
            with transaction.atomic(using=self.db):
                return self.create(**fields)
        except IntegrityError:
            running = self.in_progress().filter(single_flight_key=key).first()
            if running is None and not self.in_progress().filter(single_flight_key=key).exists():
                raise  # some other constraint
            raise self.model.already_running_error(
                self.model.already_running_message(running), running=running
            ) from None

    def enqueue(self, **fields):
        """Create a QUEUED job (for a worker to ``claim()``), or raise ``already_running_error``."""
        return self._create_single_flight({**fields, "status": JobStatus.QUEUED})

    def begin(self, **fields):
        """Create a job that is already RUNNING, claimed by this process (in-process runs such
        as a management command), or raise ``already_running_error``."""
        now = timezone.now()
        return self._create_single_flight(
            {
                **fields,
                "status": JobStatus.RUNNING,
                "started_at": now,
                "heartbeat_at": now,
                "lease_owner": new_lease_owner(),
                "attempts": 1,
            }
        )


class _Heartbeat(threading.Thread):
    """Refreshes ``heartbeat_at`` every JOB_HEARTBEAT_SECONDS until stopped."""

    def __init__(self, job: Job):
        super().__init__(name=f"heartbeat-{job._meta.label_lower}-{job.pk}", daemon=True)
        self.job = job
        self.stopped = threading.Event()

    def beat(self) -> None:
        now = timezone.now()
        type(self.job)._base_manager.filter(pk=self.job.pk, status=JobStatus.RUNNING).update(
            heartbeat_at=now
        )

    def run(self) -> None:
        try:
            while not self.stopped.wait(heartbeat_seconds()):
                try:
                    self.beat()
                except DatabaseError:
                    logger.warning("heartbeat of %s failed", self.job, exc_info=True)
        finally:
            connections.close_all()  # this thread's connections only (they are per thread)

    def stop(self) -> None:
        self.stopped.set()
        # Not waiting long: a beat blocked on a row lock must not hold up the caller; the
        # thread is a daemon and ends by itself.
        self.join(timeout=1)


class Job(models.Model):
    """Abstract job row. Subclasses add their own fields (parameters, results)."""

    Status = JobStatus
    already_running_error = JobAlreadyRunning

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    triggered_by = models.CharField(max_length=150, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    progress_message = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=255, blank=True, help_text="host:pid:random")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="times a worker claimed it")
    celery_task_id = models.CharField(max_length=255, blank=True)
    # Jobs with the same key exclude each other; one key per model unless a subclass needs
    # several lanes (e.g. one build per model kind).
    single_flight_key = models.CharField(max_length=100, default="default", editable=False)

    objects = JobQuerySet.as_manager()

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["single_flight_key"],
                condition=Q(status__in=IN_PROGRESS),
                name="%(app_label)s_%(class)s_single_flight",
            )
        ]

    # --- class-level rules ----------------------------------------------------------------

    @classmethod
    def lease_grace_seconds(cls) -> float:
        """PostgreSQL: how long a running job may go without lock and heartbeat (claim → lock)."""
        return 2 * heartbeat_seconds()

    @classmethod
    def already_running_message(cls, running: Job | None) -> str:
        name = cls._meta.verbose_name
        if running is None:
            return f"Another {name} is already queued or running; not starting another."
        return (
            f"{name.capitalize()} #{running.pk} is already {running.status}; not starting another."
        )

    # --- state ----------------------------------------------------------------------------

    @property
    def is_in_progress(self) -> bool:
        return self.status in IN_PROGRESS

    @property
    def percent(self) -> int:
        if not self.progress_total:
            return 100 if self.status == JobStatus.SUCCEEDED else 0
        return min(100, round(100 * self.progress_done / self.progress_total))

    def _db(self) -> str:
        return self._state.db or router.db_for_write(type(self), instance=self)

    def _rows(self):
        return type(self)._base_manager.using(self._db()).filter(pk=self.pk)

    @classmethod
    def jobs(cls, using: str | None = None) -> JobQuerySet:
        """Every row of the model as a JobQuerySet (whatever the default manager filters)."""
        return JobQuerySet(model=cls, using=using or router.db_for_write(cls))

    def is_stale(self) -> bool:
        return self.jobs(self._db()).stale().filter(pk=self.pk).exists()

    # --- lifecycle ------------------------------------------------------------------------

    def claim(self) -> bool:
        """Take this job for the calling process; True for exactly one of concurrent callers.

        Claimable: queued, or running with a dead lease (a redelivered task whose worker was
        killed). One conditional UPDATE decides, so two deliveries cannot both proceed.
        """
        self.refresh_from_db(fields=["status", "heartbeat_at", "started_at"])
        claimable = Q(status=JobStatus.QUEUED)
        if self.status == JobStatus.RUNNING and self.is_stale():
            # Only the heartbeat we saw: if someone else claimed it meanwhile, it moved.
            claimable |= Q(status=JobStatus.RUNNING, heartbeat_at=self.heartbeat_at)
        now = timezone.now()
        owner = new_lease_owner()
        changed = (
            self._rows()
            .filter(claimable)
            .update(
                status=JobStatus.RUNNING,
                started_at=Coalesce("started_at", now),
                heartbeat_at=now,
                updated_at=now,
                lease_owner=owner,
                attempts=F("attempts") + 1,
            )
        )
        if changed:
            self.refresh_from_db(
                fields=[
                    "status",
                    "started_at",
                    "heartbeat_at",
                    "updated_at",
                    "lease_owner",
                    "attempts",
                ]
            )
        return bool(changed)

    @contextlib.contextmanager
    def lease(self):
        """Hold the job's lease while the work runs (``with job.lease(): ...``).

        PostgreSQL: a shared session-level advisory lock on a dedicated autocommit connection,
        so it never touches the caller's transactions and the server drops it with the
        process. Everywhere: a daemon thread refreshes ``heartbeat_at``.
        """
        alias = self._db()
        lock_conn = None
        if _is_postgres(alias):
            lock_conn = connections.create_connection(alias)
            lock_conn.connect()
            lock_conn.set_autocommit(True)
            with lock_conn.cursor() as cursor:
                # A staleness probe holds the lock exclusively for an instant; wait it out.
                for _ in range(50):
                    cursor.execute(
                        "SELECT pg_try_advisory_lock_shared(%s, %s)",
                        _lock_keys(type(self), self.pk),
                    )
                    if cursor.fetchone()[0]:
                        break
                    time.sleep(0.02)
                else:
                    lock_conn.close()
                    raise DatabaseError(f"could not take the lease of {self}")
        self.heartbeat_at = timezone.now()
        self._rows().filter(status=JobStatus.RUNNING).update(heartbeat_at=self.heartbeat_at)
        heartbeat = _Heartbeat(self)
        heartbeat.start()
        try:
            yield self
        finally:
            heartbeat.stop()
            if lock_conn is not None:
                # Closing the session releases the lock (and the connection is ours alone).
                with contextlib.suppress(DatabaseError):
                    lock_conn.close()

    def progress_fields(self, done: int, total: int, message: str) -> dict:
        """The columns ``report_progress`` writes; fan-out jobs override it to add deltas."""
        return {"progress_done": done, "progress_total": total, "progress_message": message[:255]}

    def report_progress(self, done: int, total: int, message: str = "") -> None:
        """Record progress; writes at most every PROGRESS_WRITE_INTERVAL s, but always a new
        step (message) and the last step, and refreshes the heartbeat with it. A new step is
        written at once: it may be long, and the admin must not show the previous one."""
        now_mono = clock()
        last = getattr(self, "_progress_written_at", None)
        final = total and done >= total
        new_step = message[:255] != getattr(self, "_progress_message_written", None)
        if (
            last is not None
            and now_mono - last < PROGRESS_WRITE_INTERVAL
            and not final
            and not new_step
        ):
            self._progress_pending = (done, total, message)
            return
        self._progress_pending = None
        fields = self.progress_fields(done, total, message)
        now = timezone.now()
        self._rows().update(**fields, heartbeat_at=now, updated_at=now)
        self._progress_written_at = now_mono
        self._progress_message_written = message[:255]
        self.progress_done, self.progress_total = done, total
        self.progress_message = message[:255]
        self.heartbeat_at = now

    def flush_progress(self) -> None:
        """Write the last progress ``report_progress`` held back (call when the work ends)."""
        pending = getattr(self, "_progress_pending", None)
        if pending:
            self._progress_written_at = None
            self.report_progress(*pending)

    def succeed(self, **fields) -> None:
        self.status = JobStatus.SUCCEEDED
        self.finished_at = timezone.now()
        for name, value in fields.items():
            setattr(self, name, value)
        self.save(update_fields=["status", "finished_at", "updated_at", *fields])

    def fail(self, error: str) -> None:
        """Mark the job failed with ``error``. Never raises: it runs in error handlers."""
        try:
            now = timezone.now()
            self.status, self.error, self.finished_at = JobStatus.FAILED, str(error), now
            self._rows().update(
                status=JobStatus.FAILED, error=str(error), finished_at=now, updated_at=now
            )
        except Exception:
            logger.exception("could not mark %s failed (%s)", self, error)

    def mark_failed(self, reason: str) -> bool:
        """A stuck queued/running job → failed (admin action, command). False when it was not
        in progress (it finished meanwhile)."""
        now = timezone.now()
        changed = (
            self._rows()
            .filter(status__in=IN_PROGRESS)
            .update(status=JobStatus.FAILED, error=reason, finished_at=now, updated_at=now)
        )
        if changed:
            self.status, self.error, self.finished_at = JobStatus.FAILED, reason, now
        return bool(changed)
