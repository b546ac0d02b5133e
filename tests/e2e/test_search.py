"""Search as a person uses it, in headless Chromium: live suggestions in the header box with
the keyboard, then a typo search that offers "Did you mean"."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from movies import search
from movies.models import Movie

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def catalog(transactional_db):
    call_command("load_demo", verbosity=0)
    search.invalidate_index()
    assert Movie.objects.filter(title="The Godfather").exists()


def test_suggestions_keyboard_and_did_you_mean(live_server, page, catalog, screenshot_dir):
    shots = []
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))

    def snap(name):
        path = screenshot_dir / f"search-{len(shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=False)
        shots.append(path)

    page.goto(f"{live_server.url}/")
    box = page.get_by_role("combobox", name="Search movies")
    expect(box).to_have_attribute("aria-expanded", "false")
    box.click()
    box.press_sequentially("godf", delay=40)
    listbox = page.locator("#site-search-listbox")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    options = listbox.get_by_role("option")
    expect(options.first).to_contain_text("The Godfather")
    expect(listbox).to_contain_text("See all results for “godf”")
    assert options.count() <= search.SUGGEST_LIMIT + 1
    snap("suggestions")

    box.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    active = box.get_attribute("aria-activedescendant")
    assert active and page.locator(f"#{active}").is_visible()
    expect(box).to_be_focused()  # focus stays in the box; the option is only marked
    snap("arrow-down")

    box.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("The Godfather")
    assert re.search(r"/movies/\d+/$", page.url)
    snap("opened-movie")

    # Escape closes the list without leaving the box.
    box = page.get_by_role("combobox", name="Search movies")
    box.press_sequentially("alien", delay=30)
    expect(page.locator("#site-search-listbox")).to_be_visible()
    box.press("Escape")
    expect(page.locator("#site-search-listbox")).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")

    # A typo, submitted with Enter: close matches and "Did you mean".
    box.fill("godfater")
    box.press("Enter")
    page.wait_for_url(re.compile(r"/movies/\?q=godfater"))
    did_you_mean = page.get_by_test_id("did-you-mean")
    expect(did_you_mean).to_contain_text("Did you mean")
    expect(did_you_mean.get_by_role("link").first).to_contain_text("The Godfather")
    expect(page.locator(".grid .card-title").first).to_have_text("The Godfather")
    snap("did-you-mean")

    did_you_mean.get_by_role("link").first.click()
    expect(page.get_by_test_id("result-count")).to_contain_text("for “The Godfather”")
    expect(page.get_by_test_id("did-you-mean")).to_have_count(0)
    snap("corrected-search")

    # The browse page's own box suggests too (the header box steps aside there).
    assert page.locator("#site-search").count() == 0
    browse_box = page.get_by_role("combobox", name="Title")
    browse_box.fill("")
    browse_box.press_sequentially("ame", delay=40)
    expect(page.locator("#id_q-listbox").get_by_role("option").first).to_contain_text("Amélie")
    snap("browse-suggestions")

    assert not errors, errors
    assert all(p.stat().st_size > 1000 for p in shots)
