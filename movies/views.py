"""Server-rendered movie pages and the rating endpoints.

Views stay thin: forms turn request data into clean values, ``movies.services.ratings`` does
the writing, QuerySet methods do the querying. Every list page fetches a fixed number of
queries however many movies it shows (tests assert it).

Rating endpoints answer two kinds of clients:

* a plain form POST (no JavaScript): redirect back to ``next`` (or the movie) with a message;
  a bad score re-renders the movie page with status 400 and the error next to the stars;
* htmx (``HX-Request`` header): only the rating widget is returned and swapped in place;
  a bad score returns the widget with status 400 (base.html tells htmx to swap 400s).

An anonymous plain POST is redirected to the login page. An anonymous htmx POST gets 401 with
an ``HX-Redirect`` header to the login page, because following a 302 inside an XHR would swap
the whole login page into the widget.
"""

import hashlib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from .forms import BrowseForm, MyRatingsForm, RatingForm
from .member import member_state
from .models import Movie, Rating
from .pages import PAGE_SIZE, paginate, safe_next
from .search import TitleSearch, suggest_titles
from .selectors import card_movies, movie_page
from .services.ratings import rate_movie, remove_rating
from .stamp import catalog_stamp

HOME_SIZE = 18


@require_safe
def home(request):
    movies = list(
        Movie.objects.popular().with_card_genres().with_user_rating(request.user)[:HOME_SIZE]
    )
    context = {"movies": movies}
    if request.user.is_authenticated:
        # What the count means for recommendations is the recommender's: {% rating_goal %}.
        context["rated_count"] = Rating.objects.for_user(request.user).count()
        context["needs_onboarding"] = context["rated_count"] < settings.RECS_MIN_RATINGS
    return render(request, "movies/home.html", context)


@require_safe
def browse(request):
    form = BrowseForm(request.GET)
    page, page_notices, search = _browse_page(request, form)
    return render(
        request,
        "movies/browse.html",
        {
            "form": form,
            "filters": form.filters(),
            "page_obj": page,
            "movies": page.object_list,
            "notices": form.problems() + page_notices,
            "search": search,
        },
    )


# What a browse page lists is the same for everyone until the catalog changes (the member's own
# scores aside): the count, the page's movie ids in order, "did you mean", kept this long under
# the catalog stamp, so a search repeated by anyone costs the cards' rows, not the ranked
# search and its count.
BROWSE_CACHE_SECONDS = 600


def _browse_page(request, form: BrowseForm):
    """The page of movies (cards with ``my_score``), the pagination notices and the search
    (``TitleSearch``, or None without a query), from the cache when this page of these filters
    was listed under the current catalog stamp."""
    f = form.filters()
    raw_page = request.GET.get("page", "1")
    state = (catalog_stamp(), f["q"], f["genre"] and f["genre"].slug, f["decade"], f["sort"])
    key = "browse:" + hashlib.blake2b(repr((*state, raw_page)).encode(), digest_size=16).hexdigest()
    listed = cache.get(key)
    if listed is None:
        movies = form.apply(Movie.objects.all())
        page, notices = paginate(
            request, movies.with_card_genres().with_user_rating(request.user), PAGE_SIZE
        )
        search = form.search
        listed = {
            "count": page.paginator.count,
            "number": page.number,
            "ids": [m.pk for m in page.object_list],
            "notices": notices,
            "search": search and (search.query, search.did_you_mean, search.close_matches_only),
        }
        cache.set(key, listed, BROWSE_CACHE_SECONDS)
        return page, notices, search
    rows = card_movies(listed["ids"])
    scores = member_state(request).scores  # what with_user_rating() reads, for the cards
    movies = []
    for pk in listed["ids"]:
        if pk in rows:
            movies.append(rows[pk])
            rows[pk].my_score = scores.get(pk)
    page = Page(movies, listed["number"], Paginator(range(listed["count"]), PAGE_SIZE))
    search = None
    if listed["search"] is not None:
        query, did_you_mean, close_only = listed["search"]
        search = TitleSearch(
            query=query,
            movies=Movie.objects.none(),
            did_you_mean=did_you_mean,
            close_matches_only=close_only,
        )
    return page, listed["notices"], search


@require_safe
def suggest(request):
    """Live suggestions under a search box: an HTML fragment of up to 8 titles (htmx swaps
    it into the listbox); empty for fewer than 2 characters. A fixed number of queries."""
    query = request.GET.get("q", "")[:200].strip()
    return render(
        request, "movies/_suggestions.html", {"movies": suggest_titles(query), "q": query}
    )


@require_safe
def detail(request, pk: int):
    page = movie_page(pk)
    if page is None:
        raise Http404("No Movie matches the given query.")
    return render(request, "movies/detail.html", _detail_context(request, page))


def _detail_context(request, page: dict, form: RatingForm | None = None) -> dict:
    """``page``: ``selectors.movie_page`` (the movie and its facts, cached per catalog stamp)."""
    movie = page["movie"]
    # The member's whole state, read once: the mark buttons, the predicted stars and "More
    # like this" on the same page use it too (movies.member).
    return {
        **page,
        "score": member_state(request).scores.get(movie.pk),
        "rating_form": form,
        # Not request.get_full_path(): after a refused POST that is the rate URL itself.
        "next": safe_next(request, movie.get_absolute_url()),
    }


def _widget(request, movie: Movie, *, score=None, form=None, status_text="", status=200):
    """The rating widget alone: what htmx swaps in place."""
    return render(
        request,
        "movies/_rating_widget.html",
        {
            "movie": movie,
            "score": score,
            "rating_form": form,
            "status_text": status_text,
            "next": safe_next(request, movie.get_absolute_url()),
            # Cards carry the compact widget; the swapped-in widget must stay compact.
            "compact": request.POST.get("widget") == "compact",
        },
        status=status,
    )


def _refuse_anonymous(request, movie_pk: int):
    login_url = reverse(settings.LOGIN_URL)
    back = reverse("movies:detail", args=[movie_pk])
    if request.htmx:
        response = HttpResponse("Log in to rate movies.", status=401)
        response["HX-Redirect"] = f"{login_url}?next={back}"
        return response
    messages.info(request, "Log in to rate movies.")
    return redirect_to_login(back, login_url)


@require_POST
def rate(request, pk: int):
    movie = get_object_or_404(Movie, pk=pk)
    if not request.user.is_authenticated:
        return _refuse_anonymous(request, movie.pk)
    form = RatingForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            current = Rating.objects.filter(user=request.user, movie=movie).first()
            return _widget(request, movie, score=current and current.score, form=form, status=400)
        return render(
            request,
            "movies/detail.html",
            _detail_context(request, movie_page(movie.pk), form),
            status=400,
        )
    # Always keyed on request.user: nothing in the request can name another user's rating.
    rating, created = rate_movie(user=request.user, movie=movie, score=form.cleaned_data["score"])
    if request.htmx:
        response = _widget(request, movie, score=rating.score, status_text="Saved.")
        # Listeners elsewhere on the page (the onboarding progress bar) refresh on it.
        response["HX-Trigger"] = "movie-rated"
        return response
    verb = "Rated" if created else "Changed your rating of"
    messages.success(request, f"{verb} {movie.title}: {rating.score} stars.")
    return redirect(safe_next(request, movie.get_absolute_url()))


@require_POST
def unrate(request, pk: int):
    movie = get_object_or_404(Movie, pk=pk)
    if not request.user.is_authenticated:
        return _refuse_anonymous(request, movie.pk)
    removed = remove_rating(user=request.user, movie=movie)
    text = "Rating removed." if removed else "You had not rated this movie."
    if request.htmx:
        response = _widget(request, movie, score=None, status_text=text)
        response["HX-Trigger"] = "movie-rated"
        return response
    if removed:
        messages.success(request, f"Removed your rating of {movie.title}.")
    else:
        messages.info(request, f"You had not rated {movie.title}; nothing to remove.")
    return redirect(safe_next(request, movie.get_absolute_url()))


@require_safe
@login_required
def my_ratings(request):
    form = MyRatingsForm(request.GET)
    ratings = (
        Rating.objects.for_user(request.user).select_related("movie").order_by(*form.ordering())
    )
    page, notices = paginate(request, ratings, PAGE_SIZE)
    if not form.is_valid():
        notices = [e for errors in form.errors.values() for e in errors] + notices
    return render(
        request,
        "movies/my_ratings.html",
        {"form": form, "page_obj": page, "ratings": page.object_list, "notices": notices},
    )
