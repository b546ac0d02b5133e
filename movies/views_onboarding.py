"""The onboarding grid (``/movies/start/``): well-known films to rate in place until personal
recommendations have what they need, and "haven't seen it" to skip one.

Rating uses the ordinary rate endpoint (``movies.views.rate``); its htmx answers carry an
``HX-Trigger: movie-rated`` header, on which the progress bar fetches itself again
(``onboarding_progress``). Without JavaScript everything is plain links and POST forms that
redirect back to the grid.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from .models import Movie, Rating
from .pages import safe_next
from .selectors import onboarding_movies
from .services.onboarding import skip_movie


def _progress(user) -> dict:
    rated = Rating.objects.for_user(user).count()
    goal = settings.RECS_MIN_RATINGS
    return {
        "rated_count": rated,
        "goal": goal,
        "needed_more": max(0, goal - rated),
        # <progress> needs value <= max; past the goal the bar is simply full.
        "progress_value": min(rated, goal),
    }


def _start(request) -> tuple[int, list[str]]:
    raw = request.GET.get("start", "0")
    try:
        start = int(raw)
    except ValueError:
        return 0, [f"“{raw[:20]}” is not a position in the list; showing the first films."]
    if start < 0:
        return 0, ["A position in the list cannot be negative; showing the first films."]
    return start, []


@require_safe
@login_required
def onboarding(request):
    start, notices = _start(request)
    batch = onboarding_movies(request.user, start=start)
    context = {"batch": batch, "movies": batch.movies, "notices": notices, "start": start}
    if request.htmx and "start" in request.GET:
        # "Show more": the next tiles, appended to the grid, and the new "show more" link.
        return render(request, "movies/_onboarding_batch.html", context)
    context.update(_progress(request.user))
    return render(request, "movies/onboarding.html", context)


@require_safe
@login_required
def onboarding_progress(request):
    """The progress bar alone: what the grid fetches after each rating made in place."""
    return render(request, "movies/_onboarding_progress.html", _progress(request.user))


@require_POST
def skip(request, pk: int):
    movie = get_object_or_404(Movie, pk=pk)
    if not request.user.is_authenticated:
        login_url = reverse(settings.LOGIN_URL)
        back = reverse("movies:onboarding")
        if request.htmx:
            response = HttpResponse("Log in first.", status=401)
            response["HX-Redirect"] = f"{login_url}?next={back}"
            return response
        return redirect(f"{login_url}?next={back}")
    # Keyed on request.user: nothing in the request can mark a film for someone else.
    created = skip_movie(user=request.user, movie=movie)
    if request.htmx:
        # An empty answer swapped over the tile removes it (site.js moves focus on).
        return HttpResponse("")
    if created:
        messages.info(request, f"Skipped {movie.title}; it will not be offered again.")
    else:
        messages.info(request, f"You had already skipped {movie.title}.")
    return redirect(safe_next(request, reverse("movies:onboarding")))
