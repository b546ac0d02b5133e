"""The account page, email change, exports and imports (preview → confirm), end to end
through the views."""

import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import RatingImport
from movies.models import Credit, Rating, WatchlistEntry
from tests.factories import (
    CreditFactory,
    GenreFactory,
    MovieFactory,
    PersonFactory,
    RatingFactory,
    UserFactory,
)
from tests.test_csp import assert_csp_clean

pytestmark = pytest.mark.django_db

LB_HEADER = "Date,Name,Year,Letterboxd URI,Rating\n"


@pytest.fixture
def catalog(db):
    drama, crime = GenreFactory(name="Drama"), GenreFactory(name="Crime")
    return {
        "matrix": MovieFactory(
            title="The Matrix",
            release_date=datetime.date(1999, 3, 31),
            tmdb_id=603,
            imdb_id="tt0133093",
            movielens_id=2571,
            genres=[drama],
        ),
        "amelie": MovieFactory(
            title="Amélie",
            release_date=datetime.date(2001, 4, 25),
            tmdb_id=194,
            imdb_id="tt0211915",
            movielens_id=4973,
            genres=[drama],
        ),
        "heat": MovieFactory(
            title="Heat",
            release_date=datetime.date(1995, 12, 15),
            tmdb_id=949,
            imdb_id="tt0113277",
            movielens_id=6,
            genres=[crime],
        ),
    }


def upload(client, text, name="ratings.csv", encoding="utf-8"):
    data = text if isinstance(text, bytes) else text.encode(encoding)
    return client.post(reverse("account_import"), {"file": SimpleUploadedFile(name, data)})


def preview(client, text, **kw) -> RatingImport:
    response = upload(client, text, **kw)
    assert response.status_code == 302, response.content.decode()[-1500:]
    return RatingImport.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))


def confirm(client, imp):
    return client.post(reverse("account_import_confirm", args=[imp.pk]))


def scores(user) -> dict[str, str]:
    return {
        r.movie.title: str(r.score)
        for r in Rating.objects.filter(user=user).select_related("movie")
    }


# --- Account page --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["account", "account_export", "account_export_letterboxd", "account_import"]
)
def test_account_pages_need_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_account_page_shows_profile_counts_and_charts(auth_client, user, catalog):
    director = PersonFactory(name="Michael Mann")
    for movie, score in ((catalog["heat"], "5.0"), (catalog["matrix"], "4.0")):
        RatingFactory(user=user, movie=movie, score=Decimal(score))
        CreditFactory(movie=movie, person=director, kind=Credit.Kind.DIRECTOR)
    WatchlistEntry.objects.create(user=user, movie=catalog["amelie"])
    response = auth_client.get(reverse("account"))
    html = response.content.decode()
    assert response.status_code == 200
    assert reverse("password_change") in html and "alice@example.com" in html
    assert 'data-testid="chart-histogram"' in html and html.count("<svg") >= 4
    assert "5 stars: 1 rating" in html and "Michael Mann" in html and "1990s" in html
    counts = response.context["taste"]
    assert (counts.ratings, counts.average, counts.watchlist) == (2, 4.5, 1)
    assert_csp_clean(response)


def test_account_page_shows_only_my_data(auth_client, user, other_user, catalog):
    RatingFactory(user=other_user, movie=catalog["heat"], score=Decimal("1.0"))
    PersonFactory(name="Nobody")
    response = auth_client.get(reverse("account"))
    assert response.context["taste"].ratings == 0
    assert "Heat" not in response.content.decode()


def test_account_page_query_count_is_fixed(auth_client, user, django_assert_num_queries):
    genres = [GenreFactory(name="Drama"), GenreFactory(name="Comedy")]
    people = [PersonFactory() for _ in range(3)]

    def add(n):
        for i in range(n):
            movie = MovieFactory(genres=genres)
            CreditFactory(movie=movie, person=people[i % 3], kind=Credit.Kind.DIRECTOR)
            CreditFactory(movie=movie, person=people[(i + 1) % 3], kind=Credit.Kind.CAST)
            RatingFactory(user=user, movie=movie, score=Decimal(1 + i % 9) / 2)

    add(3)
    auth_client.get(reverse("account"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        auth_client.get(reverse("account"))
    small = len(ctx.captured_queries)
    add(40)
    with django_assert_num_queries(small):
        response = auth_client.get(reverse("account"))
    assert response.context["taste"].ratings == 43
    assert small <= 12


def test_email_change(auth_client, user):
    response = auth_client.post(reverse("account_email"), {"email": "new@example.org"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.email == "new@example.org"


@pytest.mark.parametrize("bad", ["not-an-email", "BOB@example.com"])
def test_email_change_refuses_bad_or_taken_addresses(auth_client, user, other_user, bad):
    response = auth_client.post(reverse("account_email"), {"email": bad})
    assert response.status_code == 400
    assert response.context["email_form"].errors["email"]
    user.refresh_from_db()
    assert user.email == "alice@example.com"


def test_email_change_needs_csrf(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(reverse("account_email"), {"email": "x@example.org"}).status_code == 403


# --- Export --------------------------------------------------------------------------------


def test_export_our_format_has_ratings_and_watchlist(auth_client, user, other_user, catalog):
    RatingFactory(user=user, movie=catalog["matrix"], score=Decimal("4.5"))
    RatingFactory(user=other_user, movie=catalog["heat"], score=Decimal("2.0"))
    WatchlistEntry.objects.create(user=user, movie=catalog["amelie"])
    response = auth_client.get(reverse("account_export"))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "tmdb_id,imdb_id,movielens_id,title,year,rating,rated_at,watchlist"
    assert lines[1].startswith("603,tt0133093,2571,The Matrix,1999,4.5,")
    assert lines[2] == "194,tt0211915,4973,Amélie,2001,,,1"
    assert len(lines) == 3


def test_export_letterboxd_format(auth_client, user, catalog):
    RatingFactory(user=user, movie=catalog["heat"], score=Decimal("3.5"))
    lines = (
        b"".join(auth_client.get(reverse("account_export_letterboxd")).streaming_content)
        .decode()
        .splitlines()
    )
    assert lines[0] == "tmdbID,imdbID,Title,Year,Rating,WatchedDate"
    assert lines[1].startswith("949,tt0113277,Heat,1995,3.5,20")


@pytest.mark.parametrize("name", ["account_export", "account_export_letterboxd"])
def test_export_then_import_into_a_fresh_account_gives_the_same_ratings(client, catalog, name):
    old, new = UserFactory(username="old"), UserFactory(username="new")
    for movie, score in zip(catalog.values(), ["0.5", "3.0", "5.0"], strict=True):
        RatingFactory(user=old, movie=movie, score=Decimal(score))
    client.force_login(old)
    data = b"".join(client.get(reverse(name)).streaming_content)
    client.force_login(new)
    imp = preview(client, data)
    assert imp.report["counts"]["new"] == 3
    confirm(client, imp)
    assert scores(new) == scores(old)


# --- Import --------------------------------------------------------------------------------


def test_letterboxd_import_preview_writes_nothing_then_confirm_writes(auth_client, user, catalog):
    RatingFactory(user=user, movie=catalog["heat"], score=Decimal("2.0"))
    RatingFactory(user=user, movie=catalog["matrix"], score=Decimal("4.0"))
    text = (
        LB_HEADER + "2024-01-01,Amelie,2001,u,4.5\n"  # folded title match (no accent)
        "2024-01-01,Heat,1995,u,3\n"  # changed
        "2024-01-01,The Matrix,2000,u,4\n"  # year off by one, unchanged
        "2024-01-01,Unknown Film,1990,u,3\n"
    )
    imp = preview(auth_client, text)
    assert imp.is_preview and imp.file_format == "letterboxd"
    counts = imp.report["counts"]
    assert (counts["new"], counts["changed"], counts["unchanged"], counts["unmatched"]) == (
        1,
        1,
        1,
        1,
    )
    assert "no film titled “Unknown Film”" in imp.report["unmatched"][0]["reason"]
    assert scores(user) == {"Heat": "2.0", "The Matrix": "4.0"}
    page = auth_client.get(reverse("account_import_detail", args=[imp.pk]))
    assert "Unknown Film" in page.content.decode() and "Confirm import" in page.content.decode()
    assert_csp_clean(page)
    assert confirm(auth_client, imp).status_code == 302
    assert scores(user) == {"Heat": "3.0", "The Matrix": "4.0", "Amélie": "4.5"}
    imp.refresh_from_db()
    assert (imp.status, imp.created, imp.changed, imp.unchanged) == ("succeeded", 1, 1, 1)


def test_confirming_twice_is_harmless_and_reimport_changes_nothing(auth_client, user, catalog):
    text = LB_HEADER + "2024-01-01,Heat,1995,u,3.5\n"
    imp = preview(auth_client, text)
    confirm(auth_client, imp)
    before = Rating.objects.get(user=user)
    confirm(auth_client, imp)
    again = preview(auth_client, text)
    assert again.report["counts"]["unchanged"] == 1 and again.plan == []
    after = Rating.objects.get(user=user)
    assert (after.score, after.updated_at) == (before.score, before.updated_at)


def test_imdb_import_converts_ten_point_scores(auth_client, user, catalog):
    text = (
        "Const,Your Rating,Date Rated,Title,URL,Title Type,IMDb Rating,Runtime (mins),Year\n"
        "tt0133093,7,2020-01-01,The Matrix,u,movie,8.7,136,1999\n"
        "tt0113277,10,2020-01-01,Heat,u,movie,8.3,170,1995\n"
        "tt0211915,1,2020-01-01,Amélie,u,movie,8.3,122,2001\n"
    )
    confirm(auth_client, preview(auth_client, text))
    assert scores(user) == {"The Matrix": "3.5", "Heat": "5.0", "Amélie": "0.5"}


def test_movielens_import_matches_movielens_ids(auth_client, user, catalog):
    confirm(auth_client, preview(auth_client, "movieId,rating,timestamp\n2571,4.5,1\n6,2.0,1\n"))
    assert scores(user) == {"The Matrix": "4.5", "Heat": "2.0"}


def test_duplicate_rows_last_wins_and_are_listed(auth_client, user, catalog):
    text = LB_HEADER + "d,Heat,1995,u,1\nd,Heat,1995,u,4\n"
    imp = preview(auth_client, text)
    assert imp.report["counts"]["duplicate"] == 1
    assert "line 3, which wins" in imp.report["duplicate"][0]["reason"]
    confirm(auth_client, imp)
    assert scores(user) == {"Heat": "4.0"}


def test_out_of_range_rows_are_listed_and_skipped(auth_client, user, catalog):
    imp = preview(auth_client, LB_HEADER + "d,Heat,1995,u,7\nd,The Matrix,1999,u,4\n")
    assert imp.report["counts"]["invalid"] == 1
    confirm(auth_client, imp)
    assert scores(user) == {"The Matrix": "4.0"}


def test_ambiguous_titles_are_not_guessed(auth_client, user, catalog):
    MovieFactory(title="Heat", release_date=datetime.date(1995, 1, 1), tmdb_id=1)
    imp = preview(auth_client, LB_HEADER + "d,Heat,1995,u,4\n")
    assert imp.plan == [] and "2 films are titled" in imp.report["unmatched"][0]["reason"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("foo,bar\n1,2\n", "columns of this file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not a CSV file"),
        ("", "empty"),
        (LB_HEADER + "d,Heat,1995,u,11\nd,Heat,1995,u,0\n", "No row of this Letterboxd file"),
        ("userId,movieId,rating\n1,6,4\n2,6,4\n", "2 users"),
    ],
)
def test_bad_files_get_a_message_and_change_nothing(auth_client, user, catalog, data, message):
    response = upload(auth_client, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    if data:  # an empty upload is refused by the form field itself
        assert "Nothing was changed" in response.content.decode()
    assert not RatingImport.objects.exists() and not Rating.objects.exists()


def test_huge_files_are_refused(auth_client, user, catalog, settings):
    settings.ACCOUNT_IMPORT_MAX_BYTES = 100
    response = upload(auth_client, LB_HEADER + "d,Heat,1995,u,4\n" * 10)
    assert response.status_code == 400 and "the limit is" in response.content.decode()
    settings.ACCOUNT_IMPORT_MAX_BYTES = 10_000
    settings.ACCOUNT_IMPORT_MAX_ROWS = 3
    response = upload(auth_client, LB_HEADER + "d,Heat,1995,u,4\n" * 10)
    assert response.status_code == 400 and "more than 3 rows" in response.content.decode()
    assert not RatingImport.objects.exists()


def test_latin1_files_are_read_and_flagged(auth_client, user, catalog):
    imp = preview(auth_client, LB_HEADER + "d,Amélie,2001,u,4\n", encoding="latin-1")
    assert imp.encoding == "latin-1" and imp.report["counts"]["new"] == 1
    page = auth_client.get(reverse("account_import_detail", args=[imp.pk]))
    assert "read as Latin-1" in page.content.decode()


def test_other_peoples_imports_are_unreachable(client, user, other_user, catalog):
    client.force_login(other_user)
    imp = preview(client, LB_HEADER + "d,Heat,1995,u,4\n")
    client.force_login(user)
    for name in ("account_import_detail", "account_import_status"):
        assert client.get(reverse(name, args=[imp.pk])).status_code == 404
    assert confirm(client, imp).status_code == 404
    assert client.post(reverse("account_import_discard", args=[imp.pk])).status_code == 302
    assert RatingImport.objects.filter(pk=imp.pk).exists()
    assert not Rating.objects.exists()


def test_expired_previews_cannot_be_confirmed(auth_client, user, catalog):
    imp = preview(auth_client, LB_HEADER + "d,Heat,1995,u,4\n")
    RatingImport.objects.filter(pk=imp.pk).update(expires_at=imp.created_at)
    response = auth_client.post(reverse("account_import_confirm", args=[imp.pk]), follow=True)
    assert "expired" in response.content.decode()
    assert not Rating.objects.exists()


def test_our_format_restores_the_watchlist(auth_client, user, catalog):
    text = (
        "tmdb_id,imdb_id,movielens_id,title,year,rating,rated_at,watchlist\n"
        "603,,,The Matrix,1999,4.5,,\n194,,,Amélie,2001,,,1\n"
    )
    confirm(auth_client, preview(auth_client, text))
    assert scores(user) == {"The Matrix": "4.5"}
    assert list(
        WatchlistEntry.objects.filter(user=user).values_list("movie__title", flat=True)
    ) == ["Amélie"]


def test_large_imports_run_as_a_celery_task_with_status(
    auth_client, user, catalog, settings, django_capture_on_commit_callbacks
):
    settings.ACCOUNT_IMPORT_SYNC_ROWS = 1
    imp = preview(auth_client, LB_HEADER + "d,Heat,1995,u,4\nd,The Matrix,1999,u,3\n")
    page = auth_client.get(reverse("account_import_detail", args=[imp.pk]))
    assert "runs in the background" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        confirm(auth_client, imp)
    imp.refresh_from_db()
    assert imp.status == "queued" and not Rating.objects.exists()
    status = auth_client.get(reverse("account_import_status", args=[imp.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in status and 'aria-live="polite"' in status
    assert len(callbacks) == 1
    callbacks[0]()  # the task, eagerly
    imp.refresh_from_db()
    assert (imp.status, imp.created, imp.progress_done) == ("succeeded", 2, 2)
    assert scores(user) == {"Heat": "4.0", "The Matrix": "3.0"}
    status = auth_client.get(reverse("account_import_status", args=[imp.pk])).content.decode()
    assert "Import done" in status and "hx-trigger" not in status


def test_the_task_returns_quietly_when_the_import_is_gone_or_claimed(user, catalog):
    from accounts.tasks import apply_rating_import

    assert apply_rating_import.apply(args=[999_999]).get() is None
    imp = RatingImport.objects.create(
        user=user,
        status="running",
        file_format="letterboxd",
        expires_at=user.date_joined,
        plan=[[catalog["heat"].pk, "4.0", False]],
    )
    assert apply_rating_import.apply(args=[imp.pk]).get() is None
    assert not Rating.objects.exists()


def test_import_page_documents_the_rules(auth_client):
    html = auth_client.get(reverse("account_import")).content.decode()
    assert "rating ÷ 2" in html and "7 → ★ 3.5" in html and "later line wins" in html
    assert "Latin-1" in html
