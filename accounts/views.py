"""Sign-up, the account page (profile, email, "your taste" charts) and the ratings
export / import pages. Workflows live in ``accounts.services``; views parse and report.

Every account view is for the signed-in person only and reads that person's rows only:
an import of someone else answers 404, like one that does not exist.
"""

import logging
import math

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from . import charts, tasks
from .forms import EmailForm, ImportForm, SignUpForm
from .models import RatingImport
from .ratings_csv import EXPORT_COLUMNS, FORMAT_NAMES, LETTERBOXD_COLUMNS, ImportFileError
from .services import exports, imports
from .services.taste import Taste, taste_summary

logger = logging.getLogger(__name__)


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="accounts.backends.PeopleBackend")
        messages.success(
            request, f"Welcome, {user.username}! Rate a few films you have seen to get started."
        )
        return redirect("movies:onboarding")
    return render(request, "registration/signup.html", {"form": form})


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer once a username + address pair is locked out
    (``AXES_LOCKOUT_CALLABLE``): a page that says what happened and for how long, status 429."""
    cooloff = settings.AXES_COOLOFF_TIME
    minutes = math.ceil(cooloff.total_seconds() / 60) if cooloff else None
    username = (credentials or {}).get(settings.AXES_USERNAME_FORM_FIELD) or request.POST.get(
        settings.AXES_USERNAME_FORM_FIELD, ""
    )
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": minutes,
        "username": str(username)[:150],
    }
    return render(request, "registration/locked_out.html", context, status=429)


# --- The account page ---------------------------------------------------------------------


def _stars(value: float) -> str:
    return f"★ {value:.1f}"


def _charts(taste: Taste) -> dict[str, str]:
    """The account page's SVG charts (markup escaped by ``accounts.charts``)."""
    out = {}
    if taste.ratings:
        peak = max(n for _, n in taste.histogram)
        out["histogram"] = charts.column_chart(
            [
                charts.Bar(
                    label=f"{score:g}",
                    value=n,
                    title=f"{score:g} star{'s' if score != 1 else ''}: "
                    f"{n} rating{'s' if n != 1 else ''}",
                    css="peak" if n == peak and n else "",
                )
                for score, n in taste.histogram
            ],
            chart_id="chart-histogram",
            title="How you rate",
            desc="Number of your ratings at each half star from 0.5 to 5.",
        )
    if taste.genres:
        out["genres"] = charts.row_chart(
            [
                charts.Bar(
                    label=g.name,
                    value=g.count,
                    text=f"{g.count} · {_stars(g.average)}",
                    title=f"{g.name}: {g.count} rated, average {g.average:.1f} stars",
                )
                for g in taste.genres
            ],
            chart_id="chart-genres",
            title="Your top genres",
            desc="Genres you rated most, with your average rating.",
        )
    if taste.decades:
        out["decades"] = charts.column_chart(
            [
                charts.Bar(
                    label=d.name,
                    value=d.count,
                    title=f"{d.name}: {d.count} rated, average {d.average:.1f} stars",
                )
                for d in taste.decades
            ],
            chart_id="chart-decades",
            title="Your decades",
            desc="How many films you rated from each decade.",
            height=200,
        )
    for key, people, title in (
        ("directors", taste.directors, "Directors you rate highest"),
        ("actors", taste.actors, "Actors you rate highest"),
    ):
        if people:
            out[key] = charts.row_chart(
                [
                    charts.Bar(
                        label=p.name,
                        value=p.average,
                        text=f"{_stars(p.average)} · {p.count} films",
                        title=f"{p.name}: average {p.average:.1f} stars over {p.count} films",
                    )
                    for p in people
                ],
                chart_id=f"chart-{key}",
                title=title,
                desc=f"Your average rating of their films (at least "
                f"{settings.ACCOUNT_TASTE_MIN_PEOPLE_RATINGS} rated).",
                max_value=5,
            )
    return {k: mark_safe(v) for k, v in out.items()}  # noqa: S308 - escaped in charts


def _account_page(request, email_form=None, status=200):
    taste = taste_summary(request.user)
    context = {
        "email_form": email_form or EmailForm(instance=request.user),
        "taste": taste,
        "charts": _charts(taste),
        "min_people": settings.ACCOUNT_TASTE_MIN_PEOPLE_RATINGS,
        "imports": list(
            RatingImport.objects.filter(user=request.user)
            .exclude(status=RatingImport.PREVIEW)
            .only("pk", "status", "filename", "file_format", "created_at", "created", "changed")[:3]
        ),
    }
    return render(request, "accounts/account.html", context, status=status)


@login_required
@require_safe
def account(request):
    return _account_page(request)


@login_required
@require_POST
def change_email(request):
    user = get_user_model().objects.get(pk=request.user.pk)
    form = EmailForm(request.POST, instance=user)
    if not form.is_valid():
        return _account_page(request, email_form=form, status=400)
    form.save()
    if form.cleaned_data["email"]:
        messages.success(request, f"Your email is now {form.cleaned_data['email']}.")
    else:
        messages.success(request, "Your email address was removed.")
    return redirect("account")


# --- Export -------------------------------------------------------------------------------


def _download(request, lines, kind: str) -> StreamingHttpResponse:
    day = timezone.localdate().isoformat()
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    name = f"netflixrecs-{kind}-{request.user.get_username()}-{day}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_safe
def export_ratings(request):
    return _download(request, exports.netflixrecs_lines(request.user), "ratings")


@login_required
@require_safe
def export_letterboxd(request):
    return _download(request, exports.letterboxd_lines(request.user), "letterboxd")


# --- Import -------------------------------------------------------------------------------


def _formats_context() -> dict:
    return {
        "export_columns": ",".join(EXPORT_COLUMNS),
        "letterboxd_columns": ",".join(LETTERBOXD_COLUMNS),
        "max_mb": settings.ACCOUNT_IMPORT_MAX_BYTES // 1_048_576,
        "max_rows": settings.ACCOUNT_IMPORT_MAX_ROWS,
        "sync_rows": settings.ACCOUNT_IMPORT_SYNC_ROWS,
        "preview_hours": settings.ACCOUNT_IMPORT_PREVIEW_HOURS,
    }


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def import_ratings(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        limit = settings.ACCOUNT_IMPORT_MAX_BYTES
        try:
            if upload.size > limit:
                raise ImportFileError(
                    f"This file is {upload.size / 1_048_576:.1f} MB; the limit is "
                    f"{limit / 1_048_576:.0f} MB. Split it and import the parts one by one."
                )
            imp = imports.create_preview(
                user=request.user, filename=upload.name, data=upload.read(limit + 1)
            )
        except ImportFileError as exc:
            error = str(exc)
        else:
            return redirect("account_import_detail", pk=imp.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "error": error, **_formats_context()}
    return render(request, "accounts/import.html", context, status=status)


def _own_import(request, pk: int) -> RatingImport:
    return get_object_or_404(RatingImport, pk=pk, user=request.user)


@login_required
@require_safe
def import_detail(request, pk: int):
    imp = _own_import(request, pk)
    context = {
        "imp": imp,
        "report": imp.report,
        "report_format": FORMAT_NAMES.get(imp.file_format, imp.file_format),
        "background": imports.runs_in_background(imp),
    }
    return render(request, "accounts/import_detail.html", {**context, **_formats_context()})


@login_required
@require_safe
def import_status(request, pk: int):
    """The status fragment htmx polls every 2 s while a background import runs."""
    return render(request, "accounts/_import_status.html", {"imp": _own_import(request, pk)})


@login_required
@require_POST
def import_confirm(request, pk: int):
    imp = _own_import(request, pk)
    if not imp.is_preview:
        messages.info(request, "This import was confirmed already.")
        return redirect("account_import_detail", pk=imp.pk)
    try:
        if imports.runs_in_background(imp):
            if tasks.queue_rating_import(imp=imp):
                messages.info(request, "Import started; this page shows its progress.")
        elif imports.confirm_import(imp=imp, background=False):
            try:
                imports.apply_import(imp)
            except Exception as exc:  # the transaction rolled back: say so, keep the page
                logger.exception("rating import %s failed", imp.pk)
                imp.fail(f"The import failed and nothing was changed ({exc.__class__.__name__}).")
            else:
                messages.success(request, _done_message(imp))
    except imports.ImportNotAvailable as exc:
        messages.error(request, str(exc))
    return redirect("account_import_detail", pk=imp.pk)


def _done_message(imp: RatingImport) -> str:
    parts = [f"{imp.created} new", f"{imp.changed} changed", f"{imp.unchanged} unchanged"]
    if imp.watchlisted:
        parts.append(f"{imp.watchlisted} added to your watchlist")
    return "Import done: " + ", ".join(parts) + "."


@login_required
@require_POST
def import_discard(request, pk: int):
    deleted, _ = RatingImport.objects.filter(
        pk=pk, user=request.user, status=RatingImport.PREVIEW
    ).delete()
    if deleted:
        messages.info(request, "Import cancelled; nothing was changed.")
    return redirect("account_import")
