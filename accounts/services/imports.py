"""Ratings imports: parse an upload, match it to the catalog, preview, then apply.

The flow (views and ``accounts.tasks`` call these):

1. ``create_preview`` reads the file (``accounts.ratings_csv``: format, encoding, scores),
   matches every row to a movie and compares it with the person's current ratings. Nothing
   is written but the ``RatingImport`` row holding the plan and the report.
2. ``confirm_import`` moves a preview to running (applied in the request) or queued (a Celery
   task applies it) with one conditional UPDATE: a second confirmation finds no preview.
3. ``apply_import`` writes the plan in one transaction (all or nothing): bulk upserts with
   the same rules as ``movies.services.ratings.rate_movie`` (validated half stars, one row per
   person and movie), skipping scores that are already what the file says, so importing the
   same file again changes nothing.

Matching, in order: TMDB id, IMDb id, MovieLens id, then the title folded like search
(``movies.text.fold``: no case, no accents) with the same year, or a year off by one when
exactly one film fits (release dates differ between sites). No fuzzy matching: a near miss is
listed as unmatched with the reason. A film named twice: the later row wins (the earlier is
listed as a duplicate).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import ratings_csv
from accounts.models import RatingImport
from accounts.ratings_csv import ImportFileError, ParsedRow
from movies.models import Movie, Rating, WatchlistEntry, validate_score
from movies.text import fold

CHUNK = 900  # ids per IN (...) query: under SQLite's bound-parameter limit everywhere
REPORT_ROWS = 200  # rows of each kind kept for the preview page (the counts are exact)
MOVIE_FIELDS = ("pk", "title", "year", "tmdb_id", "imdb_id", "movielens_id", "search_title")


class ImportNotAvailable(Exception):
    """The import cannot be confirmed (expired, or another import is running); for people."""


@dataclass(frozen=True)
class Found:
    pk: int
    title: str
    year: int | None

    @property
    def label(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title


def _chunks(values: Iterable, size: int = CHUNK):
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _lookup(field: str, values: set) -> dict:
    found: dict = {}
    for chunk in _chunks(sorted(values, key=str)):
        for m in Movie.objects.filter(**{f"{field}__in": chunk}).values(*MOVIE_FIELDS):
            found.setdefault(m[field], Found(m["pk"], m["title"], m["year"]))
    return found


def match_rows(rows: list[ParsedRow]) -> list[tuple[ParsedRow, Found | None, str]]:
    """Each row with its movie (or None and why). A bounded number of queries per 900 rows."""
    valid = [r for r in rows if not r.error]
    by_tmdb = _lookup("tmdb_id", {r.tmdb_id for r in valid if r.tmdb_id})
    by_imdb = _lookup("imdb_id", {r.imdb_id for r in valid if r.imdb_id})
    by_ml = _lookup("movielens_id", {r.movielens_id for r in valid if r.movielens_id})
    folded = {fold(r.title)[:255] for r in valid if r.title}
    by_title: dict[str, list[Found]] = defaultdict(list)
    for chunk in _chunks(sorted(folded)):
        for m in Movie.objects.filter(search_title__in=chunk).values(*MOVIE_FIELDS):
            by_title[m["search_title"]].append(Found(m["pk"], m["title"], m["year"]))
    out = []
    for row in rows:
        if row.error:
            out.append((row, None, row.error))
            continue
        movie = by_tmdb.get(row.tmdb_id) or by_imdb.get(row.imdb_id) or by_ml.get(row.movielens_id)
        if movie:
            out.append((row, movie, ""))
            continue
        movie, reason = _by_title(row, by_title.get(fold(row.title)[:255], []) if row.title else [])
        out.append((row, movie, reason))
    return out


def _by_title(row: ParsedRow, candidates: list[Found]) -> tuple[Found | None, str]:
    if not row.title:
        return None, "not in our catalog (no film with this id)"
    if not candidates:
        return None, f"not in our catalog: no film titled “{row.title}”"
    if row.year is None:
        if len(candidates) == 1:
            return candidates[0], ""
        return None, f"{len(candidates)} films are titled “{row.title}”; the file gives no year"
    same = [c for c in candidates if c.year == row.year]
    if len(same) == 1:
        return same[0], ""
    if len(same) > 1:
        return None, f"{len(same)} films are titled “{row.title}” ({row.year})"
    near = [c for c in candidates if c.year and abs(c.year - row.year) == 1]
    if len(near) == 1:
        return near[0], ""
    years = ", ".join(str(c.year) for c in candidates[:4] if c.year)
    return None, f"“{row.title}” is in our catalog, but not from {row.year} ({years})"


def _current(user, movie_ids: Iterable[int]) -> tuple[dict[int, Decimal], set[int]]:
    scores: dict[int, Decimal] = {}
    watch: set[int] = set()
    for chunk in _chunks(movie_ids):
        scores.update(
            Rating.objects.filter(user=user, movie_id__in=chunk).values_list("movie_id", "score")
        )
        watch.update(
            WatchlistEntry.objects.filter(user=user, movie_id__in=chunk).values_list(
                "movie_id", flat=True
            )
        )
    return scores, watch


def _item(row: ParsedRow, **extra) -> dict:
    return {"line": row.line, "label": row.label, **extra}


def build_plan(user, matched) -> tuple[list, dict]:
    """(plan, report) for ``matched`` rows of ``user``: what confirming writes and what the
    preview shows."""
    kinds = ["new", "changed", "unchanged", "watchlist", "unmatched", "invalid", "duplicate"]
    report: dict = {"counts": dict.fromkeys(kinds, 0), **{k: [] for k in kinds}}

    def add(kind: str, item: dict) -> None:
        report["counts"][kind] += 1
        if len(report[kind]) < REPORT_ROWS:
            report[kind].append(item)

    last: dict[int, tuple[ParsedRow, Found]] = {}
    for row, movie, reason in matched:
        if movie is None:
            add("invalid" if row.error else "unmatched", _item(row, reason=reason))
            continue
        if movie.pk in last:
            earlier, _ = last.pop(movie.pk)
            add("duplicate", _item(earlier, reason=f"same film as line {row.line}, which wins"))
        last[movie.pk] = (row, movie)
    scores, watch = _current(user, last)
    plan = []
    for movie_pk, (row, movie) in sorted(last.items(), key=lambda kv: kv[1][0].line):
        old = scores.get(movie_pk)
        shown = {"movie": movie.label, "movie_id": movie_pk}
        if row.score is None:  # a watchlist-only row (our own format)
            if old is None and movie_pk not in watch:
                add("watchlist", _item(row, **shown))
                plan.append([movie_pk, None, True])
            else:
                add("unchanged", _item(row, **shown, score=str(old) if old else "watchlist"))
            continue
        score = str(row.score)
        if old is None:
            add("new", _item(row, **shown, score=score))
        elif old != row.score:
            add("changed", _item(row, **shown, score=score, old=str(old)))
        else:
            add("unchanged", _item(row, **shown, score=score))
            continue
        plan.append([movie_pk, score, False])
    return plan, report


def create_preview(*, user, filename: str, data: bytes) -> RatingImport:
    """Parse, match and compare an upload; store the result as a preview (nothing else is
    written). Raises ``ImportFileError`` (a sentence for people) when the file is refused."""
    text, encoding = ratings_csv.decode(data, max_bytes=settings.ACCOUNT_IMPORT_MAX_BYTES)
    parsed = ratings_csv.parse(text, encoding=encoding, max_rows=settings.ACCOUNT_IMPORT_MAX_ROWS)
    bad = [r for r in parsed.rows if r.error]
    if len(bad) == len(parsed.rows):
        first = bad[0]
        raise ImportFileError(
            f"No row of this {parsed.format_name} file can be imported (line {first.line}: "
            f"{first.error}). Check that it is the ratings export itself."
        )
    plan, report = build_plan(user, match_rows(parsed.rows))
    now = timezone.now()
    RatingImport.objects.filter(
        user=user, status=RatingImport.PREVIEW, expires_at__lte=now
    ).delete()
    return RatingImport.objects.create(
        user=user,
        status=RatingImport.PREVIEW,
        triggered_by=user.get_username()[:150],
        single_flight_key=f"user:{user.pk}",
        filename=(filename or "")[:255],
        file_format=parsed.format,
        encoding=encoding,
        rows_total=len(parsed.rows),
        plan=plan,
        report=report,
        expires_at=now + datetime.timedelta(hours=settings.ACCOUNT_IMPORT_PREVIEW_HOURS),
    )


def runs_in_background(imp: RatingImport) -> bool:
    return len(imp.plan) > settings.ACCOUNT_IMPORT_SYNC_ROWS


def confirm_import(*, imp: RatingImport, background: bool) -> bool:
    """Preview → queued (``background``) or running (applied by the caller now), in one
    conditional UPDATE. False when it was not a preview any more (confirmed already: harmless).
    Raises ``ImportNotAvailable`` when the preview expired or another import of the same
    person is queued or running."""
    now = timezone.now()
    if imp.is_expired:
        raise ImportNotAvailable("This preview has expired; upload the file again.")
    fields = {"status": RatingImport.Status.QUEUED, "confirmed_at": now, "updated_at": now}
    if not background:
        fields |= {"status": RatingImport.Status.RUNNING, "started_at": now, "attempts": 1}
    try:
        with transaction.atomic():
            changed = RatingImport.objects.filter(
                pk=imp.pk, status=RatingImport.PREVIEW, expires_at__gt=now
            ).update(**fields)
    except IntegrityError:
        raise ImportNotAvailable(
            "Another import of yours is still running; wait for it to finish, then confirm."
        ) from None
    imp.refresh_from_db()
    return bool(changed)


def apply_import(
    imp: RatingImport, *, on_progress: Callable[[int, int, str], None] | None = None
) -> RatingImport:
    """Write ``imp``'s plan in one transaction and mark it succeeded with the counts.

    Scores are compared again with what is stored now (the person may have rated since the
    preview), and only differences are written: importing the same file twice changes
    nothing. Rating a film takes it off the watchlist, as rating it on the site does.
    """
    user = imp.user
    plan = [(pk, Decimal(score) if score else None, watch) for pk, score, watch in imp.plan]
    total = len(plan)
    created = changed = watchlisted = 0
    # Rows the preview found unchanged are not in the plan; they count as unchanged here too.
    unchanged = int((imp.report.get("counts") or {}).get("unchanged", 0))
    if on_progress:
        on_progress(0, total, f"Saving {total:,} ratings…")
    with transaction.atomic():
        live = set(
            pk
            for chunk in _chunks(p[0] for p in plan)
            for pk in Movie.objects.filter(pk__in=chunk).values_list("pk", flat=True)
        )
        plan = [p for p in plan if p[0] in live]  # a film deleted since the preview
        scores, watch = _current(user, [p[0] for p in plan])
        to_rate, to_watch = [], []
        for movie_pk, score, watch_only in plan:
            if watch_only:
                if movie_pk not in scores and movie_pk not in watch:
                    to_watch.append(WatchlistEntry(user=user, movie_id=movie_pk))
                else:
                    unchanged += 1
                continue
            validate_score(score)
            old = scores.get(movie_pk)
            if old == score:
                unchanged += 1
                continue
            created += old is None
            changed += old is not None
            to_rate.append(Rating(user=user, movie_id=movie_pk, score=score))
        done = 0
        for chunk in _chunks(to_rate, 500):
            Rating.objects.bulk_create(
                chunk,
                update_conflicts=True,
                unique_fields=["user", "movie"],
                update_fields=["score", "updated_at"],
            )
            done += len(chunk)
            if on_progress:
                on_progress(done, total, f"Saved {done:,} of {len(to_rate):,} ratings…")
        for chunk in _chunks([r.movie_id for r in to_rate]):
            WatchlistEntry.objects.filter(user=user, movie_id__in=chunk).delete()
        for chunk in _chunks(to_watch, 500):
            WatchlistEntry.objects.bulk_create(chunk, ignore_conflicts=True)
        watchlisted = len(to_watch)
        imp.succeed(
            created=created,
            changed=changed,
            unchanged=unchanged,
            watchlisted=watchlisted,
            progress_done=total,
            progress_total=total,
            progress_message="Done.",
        )
    return imp
