"""The account page and "your data is yours" in headless Chromium: charts, export CSV, sign
up as someone new, import that file, check the preview, confirm, same ratings."""

import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from movies.models import Movie, Rating
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCORES = ["5.0", "4.5", "4.0", "3.5", "3.0", "2.5", "4.5", "5.0", "1.5", "4.0", "3.5", "0.5"]


@pytest.fixture
def rated_user(transactional_db):
    call_command("load_demo", "--no-progress", verbosity=0)
    user = UserFactory(username="exporter")
    movies = Movie.objects.order_by("-popularity", "title")[: len(SCORES)]
    for movie, score in zip(movies, SCORES, strict=True):
        Rating.objects.create(user=user, movie=movie, score=Decimal(score))
    return user


def scores(username):
    return dict(
        Rating.objects.filter(user__username=username).values_list("movie__tmdb_id", "score")
    )


def test_account_charts_export_and_import_into_a_fresh_account(
    live_server, page, rated_user, screenshot_dir, tmp_path
):
    def snap(name):
        page.screenshot(path=str(screenshot_dir / f"account-{name}.png"), full_page=True)

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("exporter")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name=re.compile("log in", re.I)).click()

    page.goto(f"{live_server.url}/accounts/")
    expect(page.get_by_test_id("taste-counts")).to_contain_text("12")
    histogram = page.get_by_test_id("chart-histogram").locator("svg")
    expect(histogram).to_be_visible()
    expect(page.get_by_test_id("chart-genres").locator("svg")).to_be_visible()
    assert histogram.locator("rect.bar-fill").count() == 10
    snap("01-charts")

    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    exported = tmp_path / "export.csv"
    download_info.value.save_as(exported)
    assert exported.read_text().startswith("tmdb_id,imdb_id,movielens_id,title")

    page.get_by_test_id("account-menu").locator("summary").click()
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Password", exact=True).fill("a-Long-and-unusual-pass-77")
    page.get_by_label("Password confirmation").fill("a-Long-and-unusual-pass-77")
    page.get_by_role("button", name=re.compile("sign up", re.I)).click()
    expect(page.get_by_test_id("username")).to_have_text("newcomer")
    snap("02-signed-up")

    page.goto(f"{live_server.url}/accounts/import/")
    page.get_by_label("Ratings file (CSV)").set_input_files(str(exported))
    snap("03-upload")
    page.get_by_role("button", name="Preview import").click()
    expect(page.get_by_test_id("import-counts")).to_contain_text("12 new")
    snap("04-preview")
    assert scores("newcomer") == {}  # the preview writes nothing

    page.get_by_test_id("confirm-import").click()
    expect(page.get_by_test_id("import-status")).to_contain_text("Import done")
    snap("05-imported")
    assert scores("newcomer") == scores("exporter")

    page.goto(f"{live_server.url}/accounts/")
    expect(page.get_by_test_id("taste-counts")).to_contain_text("12")
    snap("06-new-account-charts")
