"""Recommendation pages and the JSON API: thin views over pipeline.recommend_for_user."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from .errors import InvalidRequest
from .loading import get_active_model
from .pipeline import MAX_TOP_N, recommend_for_user, validate_top_n
from .predict import half_stars


@login_required
def for_you(request):
    result = recommend_for_user(user=request.user, top_n=MAX_TOP_N // 2)
    return render(
        request,
        "recommendations/for_you.html",
        {
            "result": result,
            "min_ratings": settings.RECS_MIN_RATINGS,
        },
    )


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
