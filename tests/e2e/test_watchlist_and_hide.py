"""In headless Chromium: the watchlist and "not interested" with undo, as a member uses them.

Sign in → add a movie to the watchlist from a browse card (in place, focus kept) → its
movie page (both marks, which exclude each other) → the watchlist page → "Not interested"
on a recommendation card (replaced in place by the next recommendation) → Undo (the card
comes back) → hide again → the "Not interested" page lists it and can show it again; then
the same on a phone-sized screen. A screenshot per step (watchlist-NN-*.png).
"""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from movies.models import HiddenMovie, WatchlistEntry

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_site(transactional_db):
    call_command("load_demo", "--no-progress", verbosity=0)
    call_command("build_tfidf", verbosity=0)
    call_command("demo_user", stdout=None)


def card_titles(page) -> list[str]:
    return [t.inner_text() for t in page.locator("[data-testid=recommendation] .card-title").all()]


def test_watchlist_and_not_interested_with_undo(live_server, page, demo_site, screenshot_dir):
    def snap(n: int, name: str):
        page.screenshot(path=str(screenshot_dir / f"watchlist-{n:02d}-{name}.png"), full_page=True)

    errors = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill("netflixrecs-demo")
    page.get_by_role("button", name=re.compile("log in", re.I)).click()

    # 1. Add to the watchlist from a browse card: swapped in place, focus stays on the button.
    page.goto(f"{live_server.url}/movies/")
    card = page.locator("li.card").first
    title = card.locator(".card-title").inner_text()
    card.get_by_test_id("watchlist-toggle").click()
    toggle = card.get_by_test_id("watchlist-toggle")
    expect(toggle).to_contain_text("On your watchlist ✓")
    expect(toggle).to_be_focused()
    assert page.url.endswith("/movies/")  # no navigation: htmx swapped the button
    snap(1, "added-from-browse")

    # The movie page shows both marks; "Not interested" there works in place too.
    card.locator(".card-title").click()
    marks = page.get_by_test_id("mark-buttons").first
    expect(marks.get_by_test_id("watchlist-toggle")).to_contain_text("On your watchlist ✓")
    expect(marks.get_by_test_id("hide-toggle")).to_have_text(re.compile("Not interested"))
    snap(2, "movie-page")
    marks.get_by_test_id("hide-toggle").click()
    expect(marks.get_by_test_id("hide-toggle")).to_have_text(re.compile("Show it again"))
    expect(marks.get_by_test_id("hide-toggle")).to_be_focused()
    # Hiding took it off the watchlist; adding it back unhides it.
    expect(marks.get_by_test_id("watchlist-toggle")).to_contain_text("Add to watchlist")
    marks.get_by_test_id("watchlist-toggle").click()
    expect(marks.get_by_test_id("watchlist-toggle")).to_contain_text("On your watchlist ✓")
    expect(marks.get_by_test_id("hide-toggle")).to_have_text(re.compile("Not interested"))

    # 2. The watchlist page, from the header.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Watchlist").click()
    expect(page.get_by_role("heading", name="Your watchlist")).to_be_visible()
    expect(page.get_by_test_id("watchlist-entry")).to_have_count(1)
    expect(page.get_by_test_id("watchlist-entry").first).to_contain_text(title)
    snap(3, "watchlist-page")

    # 3. "Not interested" on a recommendation card: the next recommendation takes its place.
    page.goto(f"{live_server.url}/recommendations/")
    before = card_titles(page)
    hidden = before[1]
    second = page.get_by_test_id("recommendation").nth(1)
    second.get_by_test_id("not-interested").click()
    undo = page.get_by_test_id("undo-hide")
    expect(undo).to_be_visible()
    expect(undo).to_be_focused()
    expect(page.get_by_test_id("rec-undo")).to_contain_text(hidden)
    after = card_titles(page)
    assert len(after) == len(before)
    assert hidden not in after
    assert after[1] not in before  # a new movie, in the hidden one's place
    assert after[0] == before[0] and after[2:] == before[2:]
    assert HiddenMovie.objects.filter(user__username="demo", movie__title=hidden).exists()
    snap(4, "card-replaced")

    # 4. Undo: the hidden movie's card is back where it was, with the focus.
    undo.click()
    expect(page.get_by_test_id("rec-undo")).to_contain_text("is back in your recommendations")
    expect(page.locator("[data-testid=recommendation] .card-title").nth(1)).to_have_text(hidden)
    assert card_titles(page) == before
    expect(
        page.get_by_test_id("recommendation").nth(1).get_by_test_id("not-interested")
    ).to_be_focused()
    assert not HiddenMovie.objects.filter(user__username="demo").exists()
    snap(5, "undone")

    # 5. Hide it again; the "Not interested" page lists it and can show it again.
    page.get_by_test_id("recommendation").nth(1).get_by_test_id("not-interested").click()
    expect(page.get_by_test_id("rec-undo")).to_contain_text(hidden)
    page.get_by_role("link", name="All hidden movies").click()
    expect(page.get_by_role("heading", name="Not interested")).to_be_visible()
    row = page.get_by_test_id("hidden-entry").filter(has_text=hidden)
    expect(row).to_have_count(1)
    snap(6, "not-interested-page")
    row.get_by_test_id("hide-toggle").click()
    expect(row.get_by_test_id("hide-toggle")).to_have_text(re.compile("Not interested"))
    assert not HiddenMovie.objects.filter(user__username="demo").exists()
    snap(7, "shown-again")

    assert WatchlistEntry.objects.filter(user__username="demo", movie__title=title).exists()

    # On a phone: the card buttons fit, the Undo bar stays on screen.
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{live_server.url}/recommendations/")
    page.get_by_test_id("recommendation").first.get_by_test_id("not-interested").click()
    expect(page.get_by_test_id("undo-hide")).to_be_in_viewport()
    page.screenshot(path=str(screenshot_dir / "watchlist-08-mobile-undo.png"))
    assert errors == [], errors
