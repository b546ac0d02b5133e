""" "Not interested" on a recommendation card: hide the movie, bring in the next one, undo.

``POST /recommendations/hide/<movie_id>/`` hides the movie through the catalog's service
(``movies.services.marks``) and, for htmx, answers with the card that replaces it: the best
recommendation not already on the page (the page sends the ids it shows as ``shown``), plus
an out-of-band "Undo" bar. ``POST /recommendations/unhide/<movie_id>/`` is that undo: it
unhides the movie and answers with its card again, which htmx swaps over the replacement.

Without JavaScript both are plain forms that redirect back to the recommendations page with
a message. Anonymous: a 302 to the login page, or a 401 with ``HX-Redirect`` for htmx.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from movies.models import HiddenMovie, Movie, WatchlistEntry
from movies.services.marks import hide_movie, unhide_movie

from .explain import RecommendedMovie
from .pipeline import MAX_TOP_N, recommend_for_user

MAX_SHOWN = 200  # a page shows 25; more than this is not a page of ours


def _shown_ids(request) -> set[int]:
    """The movie ids the page says it shows; anything that is not an id is ignored (it is
    only a hint for which card comes next, never a reason to refuse the hide)."""
    ids = set()
    for raw in request.POST.getlist("shown")[:MAX_SHOWN]:
        if raw.isdigit() and len(raw) < 12:
            ids.add(int(raw))
    return ids


def _refuse_anonymous(request):
    login_url = reverse(settings.LOGIN_URL)
    back = reverse("recommendations:for_you")
    text = "Log in to hide movies from your recommendations."
    if request.htmx:
        response = HttpResponse(text, status=401)
        response["HX-Redirect"] = f"{login_url}?{urlencode({'next': back})}"
        return response
    messages.info(request, text)
    return redirect_to_login(back, login_url)


def next_recommendation(*, user, skip: set[int]):
    """The best recommendation for ``user`` outside ``skip``, with the result it came from.

    Hidden and watchlisted movies are skipped here too, so the next card is right even where
    the pipeline serves them (it filters them itself: this is the last word, not the rule)."""
    result = recommend_for_user(user=user, top_n=MAX_TOP_N)
    skip = skip | HiddenMovie.objects.movie_ids(user) | WatchlistEntry.objects.movie_ids(user)
    item = next((i for i in result.items if i.movie.pk not in skip), None)
    return item, result


@require_POST
def hide(request, movie_id: int):
    movie = get_object_or_404(Movie, pk=movie_id)
    if not request.user.is_authenticated:
        return _refuse_anonymous(request)
    change = hide_movie(user=request.user, movie=movie)
    if not request.htmx:
        if change.changed:
            messages.success(
                request,
                f"{movie.title} won't be recommended to you again. "
                "Changed your mind? It is listed under Not interested.",
            )
        else:
            messages.info(request, f"{movie.title} was already hidden from your recommendations.")
        return redirect("recommendations:for_you")
    item, result = next_recommendation(user=request.user, skip=_shown_ids(request) | {movie.pk})
    return render(
        request,
        "recommendations/_hidden.html",
        {"hidden": movie, "item": item, "result": result, "left_watchlist": change.left_watchlist},
    )


@require_POST
def unhide(request, movie_id: int):
    movie = get_object_or_404(Movie, pk=movie_id)
    if not request.user.is_authenticated:
        return _refuse_anonymous(request)
    change = unhide_movie(user=request.user, movie=movie)
    if not request.htmx:
        if change.changed:
            messages.success(request, f"{movie.title} is back in your recommendations.")
        else:
            messages.info(request, f"{movie.title} was not hidden; nothing to undo.")
        return redirect("recommendations:for_you")
    # Its card again, with its reason when it is still among the recommendations.
    result = recommend_for_user(user=request.user, top_n=MAX_TOP_N)
    item = next((i for i in result.items if i.movie.pk == movie.pk), None)
    if item is None:
        item = RecommendedMovie(movie=movie, score=None)
    return render(
        request,
        "recommendations/_restored.html",
        {"item": item, "result": result, "restored": change.changed},
    )
