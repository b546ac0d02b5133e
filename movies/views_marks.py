"""The watchlist and "not interested": the toggles and the two list pages.

Toggles are POST-only forms that work without JavaScript (redirect back to a safe ``next``
with a message) and with htmx (``HX-Request``: only the buttons block is returned and swapped
in place, focus kept on the toggled button). They are keyed on ``request.user`` only: nothing
in the request can name another person's marks. Anonymous visitors are sent to the login
page: a 302 for a plain POST, a 401 with ``HX-Redirect`` for htmx (like the rating endpoints).

The list pages fetch a fixed number of queries however many movies they show (tests assert it).
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db.models import DecimalField, OuterRef, Prefetch, Subquery
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST, require_safe

from .forms import MarkButtonsForm, MarksForm
from .models import Genre, HiddenMovie, Movie, Rating, WatchlistEntry
from .pages import PAGE_SIZE, paginate, safe_next
from .services import marks


def _refuse_anonymous(request, back: str):
    login_url = reverse(settings.LOGIN_URL)
    text = "Log in to keep a watchlist and hide movies."
    if request.htmx:
        response = HttpResponse(text, status=401)
        response["HX-Redirect"] = f"{login_url}?{urlencode({'next': back})}"
        return response
    messages.info(request, text)
    return redirect_to_login(back, login_url)


def _toggle(request, pk: int, action: str):
    movie = get_object_or_404(Movie, pk=pk)
    back = safe_next(request, movie.get_absolute_url())
    if not request.user.is_authenticated:
        return _refuse_anonymous(request, back)
    service, focus, known, say = ACTIONS[action]
    change = service(user=request.user, movie=movie)
    text = say(movie.title, change)
    if not request.htmx:
        (messages.success if change.changed else messages.info)(request, text)
        return redirect(back)
    for attr, value in known.items():
        setattr(movie, attr, value)
    return render(
        request,
        "movies/_mark_buttons.html",
        {
            "movie": movie,
            "mark_buttons": MarkButtonsForm(request.POST).which(),
            "next": back,
            "mark_status": text,
            "focus_mark": focus,
        },
    )


def _said_add(title, change):
    if not change.changed:
        return f"{title} is already on your watchlist."
    extra = " It is no longer hidden from your recommendations." if change.unhidden else ""
    return f"Added {title} to your watchlist.{extra}"


def _said_remove(title, change):
    if change.changed:
        return f"Removed {title} from your watchlist."
    return f"{title} was not on your watchlist; nothing to remove."


def _said_hide(title, change):
    if not change.changed:
        return f"{title} is already hidden from your recommendations."
    extra = " It is off your watchlist too." if change.left_watchlist else ""
    return f"{title} won't be recommended to you again.{extra}"


def _said_unhide(title, change):
    if change.changed:
        return f"{title} can be recommended to you again."
    return f"{title} was not hidden; nothing to undo."


# action -> (service, button to focus after the swap, state known after it, message)
ACTIONS = {
    "watchlist_add": (
        marks.add_to_watchlist,
        "watchlist",
        {"on_watchlist": True, "is_hidden": False},
        _said_add,
    ),
    "watchlist_remove": (
        marks.remove_from_watchlist,
        "watchlist",
        {"on_watchlist": False},
        _said_remove,
    ),
    "hide": (marks.hide_movie, "hide", {"is_hidden": True, "on_watchlist": False}, _said_hide),
    "unhide": (marks.unhide_movie, "hide", {"is_hidden": False}, _said_unhide),
}


@require_POST
def watchlist_add(request, pk: int):
    return _toggle(request, pk, "watchlist_add")


@require_POST
def watchlist_remove(request, pk: int):
    return _toggle(request, pk, "watchlist_remove")


@require_POST
def hide(request, pk: int):
    return _toggle(request, pk, "hide")


@require_POST
def unhide(request, pk: int):
    return _toggle(request, pk, "unhide")


def _marked_page(request, model, *, template: str, state: dict):
    """A sorted, paginated list of the viewer's marks, in a fixed number of queries: the
    count, the page of marks with their movies and the viewer's score, the movies' genres."""
    form = MarksForm(request.GET)
    score = Rating.objects.filter(user=request.user, movie=OuterRef("movie_id")).values("score")
    marks_qs = (
        model.objects.for_user(request.user)
        .select_related("movie")
        .prefetch_related(Prefetch("movie__genres", queryset=Genre.objects.order_by("name")))
        .annotate(
            my_score=Subquery(score[:1], output_field=DecimalField(max_digits=2, decimal_places=1))
        )
        .order_by(*form.ordering())
    )
    page, notices = paginate(request, marks_qs, PAGE_SIZE)
    if not form.is_valid():
        notices = [e for errors in form.errors.values() for e in errors] + notices
    entries = list(page.object_list)
    for entry in entries:  # the buttons need no query: every movie here has this mark
        for attr, value in state.items():
            setattr(entry.movie, attr, value)
    return render(
        request,
        template,
        {"form": form, "page_obj": page, "entries": entries, "notices": notices},
    )


@require_safe
@login_required
def watchlist(request):
    return _marked_page(
        request, WatchlistEntry, template="movies/watchlist.html", state={"on_watchlist": True}
    )


@require_safe
@login_required
def not_interested(request):
    return _marked_page(
        request, HiddenMovie, template="movies/not_interested.html", state={"is_hidden": True}
    )
