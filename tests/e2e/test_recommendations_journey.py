"""In headless Chromium: the demo user rates five movies and gets recommendations with reasons."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIKED = [
    ("matrix", "The Matrix", "5 stars"),
    ("alien", "Alien", "4.5 stars"),
    ("blade runner", "Blade Runner", "5 stars"),
    ("terminator 2", "Terminator 2: Judgment Day", "4 stars"),
    ("notting hill", "Notting Hill", "1 star"),
]


@pytest.fixture
def demo_site(transactional_db):
    call_command("load_demo", "--no-progress", verbosity=0)
    call_command("build_tfidf", verbosity=0)
    call_command("demo_user", stdout=None)


def test_five_ratings_turn_the_fallback_into_recommendations_with_reasons(
    live_server, page, demo_site, screenshot_dir
):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill("netflixrecs-demo")
    page.get_by_role("button", name=re.compile("log in", re.I)).click()

    page.goto(f"{live_server.url}/recommendations/")
    expect(page.get_by_test_id("recs-status")).to_have_attribute(
        "data-strategy", "popularity_fallback"
    )
    expect(page.get_by_test_id("needed-ratings")).to_have_text("5")
    page.screenshot(path=str(screenshot_dir / "recs-01-fallback.png"), full_page=True)

    for query, title, stars in LIKED:
        page.goto(f"{live_server.url}/movies/?q={query.replace(' ', '+')}")
        page.get_by_role("link", name=title, exact=True).first.click()
        page.get_by_test_id("rating-form").get_by_label(stars, exact=True).check(force=True)
        expect(page.get_by_test_id("your-rating")).to_contain_text(stars.split()[0])

    page.goto(f"{live_server.url}/recommendations/")
    expect(page.get_by_test_id("total-ratings")).to_have_text("5")
    strategy = page.get_by_test_id("recs-status").get_attribute("data-strategy")
    assert strategy in {"content_based", "hybrid"}
    recs = page.get_by_test_id("recommendation")
    assert recs.count() >= 10
    cards = page.locator("[data-testid=recommendation] .card-title")
    titles = [t.inner_text() for t in cards.all()]
    rated = {title for _, title, _ in LIKED}
    assert not rated & set(titles), "rated movies must be excluded"
    first_reason = page.get_by_test_id("because").first.inner_text()
    assert first_reason.startswith("Because you liked"), first_reason
    page.screenshot(path=str(screenshot_dir / "recs-02-for-you.png"), full_page=True)

    # The movie page's "More like this" comes from the same model.
    page.get_by_role("link", name="My ratings").first.click()
    page.get_by_role("link", name="The Matrix", exact=True).first.click()
    expect(page.get_by_text("More like this")).to_be_visible()
    expect(page.get_by_role("link", name="The Matrix Reloaded").first).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "recs-03-more-like-this.png"), full_page=True)
