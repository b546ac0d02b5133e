"""Recommendation pages and the JSON API: thin views over pipeline.recommend_for_user."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.http import require_safe

from movies.member import member_state
from movies.stamp import catalog_stamp

from .errors import InvalidRequest
from .loading import get_active_model
from .pipeline import MAX_TOP_N, ratings_from_state, recommend_for_user, validate_top_n
from .predict import half_stars
from .scoring import UserRatings

# A member's page is the same until their ratings or marks, the model or the catalog change;
# people reload it and come back to it, so its body is kept this long. The catalog stamp is in
# the key, so a catalog edit shows on the next view. Measured by bench/bench_load.py
# (docs/benchmarks.md).
PAGE_CACHE_SECONDS = 600


def _page_key(request, ratings: UserRatings) -> str:
    """Everything the page body depends on: the user, the active model version, the catalog
    (its stamp: titles, posters, genres, names in the reasons), their ratings and marks, and
    the CSRF secret (the body's forms carry tokens masked from it)."""
    model = get_active_model()
    state = repr(
        (
            sorted(ratings.ratings),
            sorted(ratings.marks),
            request.META.get("CSRF_COOKIE", ""),
            settings.RECS_MIN_RATINGS,
            settings.RECS_MMR_LAMBDA,
            catalog_stamp(),
        )
    )
    digest = hashlib.blake2b(state.encode(), digest_size=16).hexdigest()
    version = model.version_id if model is not None else "none"
    return f"recs-page:{request.user.pk}:{version}:{digest}"


@login_required
def for_you(request):
    get_token(request)  # the secret the key names must be the one the forms use
    ratings = ratings_from_state(member_state(request))
    key = _page_key(request, ratings)
    body = cache.get(key)
    if body is None:
        result = recommend_for_user(user=request.user, top_n=MAX_TOP_N // 2, ratings=ratings)
        body = render_to_string(
            "recommendations/_for_you_body.html",
            {"result": result, "min_ratings": settings.RECS_MIN_RATINGS},
            request=request,
        )
        cache.set(key, body, PAGE_CACHE_SECONDS)
    return render(request, "recommendations/for_you.html", {"body": body})


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@require_safe
def api_recommendations(request):
    """``GET /api/recommendations?top_n=N`` for the signed-in user (session auth).

    ``strategy`` is the name of a served strategy in ``recommendations.strategies``: "hybrid"
    (content + collaborative + popularity), "content_based" (a model without a collaborative
    part) or "popularity_fallback" (cold start); see docs/evaluation.md.
    """
    if not request.user.is_authenticated:
        return _error(401, "Sign in to get recommendations.")
    try:
        top_n = validate_top_n(request.GET.get("top_n", "10"))
    except InvalidRequest as exc:
        return _error(400, str(exc))
    if get_active_model() is None:
        return _error(
            503, "No recommendation model is active yet; an administrator has to build one."
        )
    result = recommend_for_user(user=request.user, top_n=top_n)
    return JsonResponse(
        {
            "recommendations": [
                {
                    "tmdb_id": item.movie.tmdb_id,
                    "title": item.movie.title,
                    "year": item.movie.year,
                    "poster_url": item.movie.poster_url,
                    "overview": item.movie.overview,
                    "vote_average": item.movie.vote_average,
                    "score": item.score,
                    "because": item.explanation,
                    # Half stars (0.5..5.0) we think the user would give it; null with too
                    # few ratings.
                    "predicted_rating": (
                        half_stars(result.predictions[item.movie.pk])
                        if item.movie.pk in result.predictions
                        else None
                    ),
                }
                for item in result.items
            ],
            "strategy": result.strategy.name,
            "total_ratings": result.total_ratings,
            "model_version": result.model_version,
        }
    )
