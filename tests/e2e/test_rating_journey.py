"""A real user's journey in headless Chromium: sign up, search, rate, change, My ratings."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from movies.models import Movie, Rating

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def catalog(transactional_db):
    call_command("load_demo", verbosity=0)
    assert Movie.objects.filter(title="The Godfather").exists()


def test_sign_up_search_rate_change_and_see_my_ratings(live_server, page, catalog, screenshot_dir):
    shots = []

    def snap(name):
        path = screenshot_dir / f"{len(shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    page.goto(f"{live_server.url}/")
    snap("home")

    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Username").fill("cinephile")
    page.get_by_label("Password", exact=True).fill("a-Long-and-unusual-pass-77")
    page.get_by_label("Password confirmation").fill("a-Long-and-unusual-pass-77")
    snap("signup")
    page.get_by_role("button", name=re.compile("sign up", re.I)).click()
    expect(page.get_by_text("cinephile").first).to_be_visible()

    page.goto(f"{live_server.url}/movies/?q=godfather")
    snap("search")
    page.get_by_role("link", name=re.compile(r"^The Godfather$")).first.click()
    expect(page.get_by_role("heading", name=re.compile("The Godfather"))).to_be_visible()

    form = page.get_by_test_id("rating-form")
    form.get_by_label("4.5 stars", exact=True).check(force=True)
    expect(page.get_by_test_id("your-rating")).to_contain_text("4.5")
    snap("rated")
    godfather = Movie.objects.get(title="The Godfather")
    assert str(Rating.objects.get(user__username="cinephile", movie=godfather).score) == "4.5"

    page.get_by_test_id("rating-form").get_by_label("3 stars", exact=True).check(force=True)
    expect(page.get_by_test_id("your-rating")).to_contain_text("3")
    snap("changed")
    assert str(Rating.objects.get(user__username="cinephile", movie=godfather).score) == "3.0"

    page.get_by_role("link", name="My ratings").first.click()
    row = page.get_by_text("The Godfather").first
    expect(row).to_be_visible()
    snap("my-ratings")
    assert Rating.objects.filter(user__username="cinephile").count() == 1
    assert all(p.stat().st_size > 1000 for p in shots)
