"""In headless Chromium: a new member signs up, lands on the onboarding grid, rates five films
and skips one there, watches the progress bar fill, follows the reward to personal
recommendations with reasons; then rates by keyboard (arrows move, only Enter saves) and
checks the phone header."""

import re

import pytest
from django.conf import settings
from django.core.management import call_command
from playwright.sync_api import expect

from movies.models import Rating, SkippedMovie

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

USERNAME = "newcomer"
PASSWORD = "a-Long-and-unusual-pass-77"
SCORES = ["5 stars", "4.5 stars", "4 stars", "5 stars", "4.5 stars"]


@pytest.fixture
def demo_site(transactional_db):
    call_command("load_demo", "--no-progress", verbosity=0)
    call_command("build_tfidf", verbosity=0)


def test_sign_up_onboard_with_the_grid_and_get_personal_picks(
    live_server, page, demo_site, screenshot_dir
):
    goal = settings.RECS_MIN_RATINGS
    assert goal == len(SCORES)

    def snap(name):
        page.screenshot(path=str(screenshot_dir / f"onboarding-{name}.png"), full_page=True)

    rate_posts = []
    page.on(
        "request",
        lambda r: (
            rate_posts.append(r.url) if r.method == "POST" and r.url.endswith("/rate/") else None
        ),
    )
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_server.url}/accounts/signup/")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("sign up", re.I)).click()

    # Sign-up lands on the grid.
    expect(page).to_have_url(re.compile(r"/movies/start/$"))
    progress = page.get_by_test_id("progress-text")
    expect(progress).to_have_text(re.compile(rf"0 of {goal} ratings — {goal} more"))
    tiles = page.get_by_test_id("onboarding-tile")
    assert tiles.count() == 24
    snap("01-landed")

    # Rate five films in place, each with one click; the bar fills as we go.
    rated_titles = []
    for i, stars in enumerate(SCORES):
        tile = tiles.nth(i)
        rated_titles.append(tile.locator(".card-title").inner_text())
        # Click the star itself, as a person does, with Playwright's actionability checks (no
        # force): a forced click on the hidden radio landed on whatever covered its spot
        # while an earlier tile's swap moved the grid (once, the card's title link).
        tile.locator(f'label[title="{stars}"]').click()
        expect(tile.get_by_test_id("card-your-rating")).to_contain_text(stars.split()[0])
        done = i + 1
        if done < goal:
            expect(progress).to_have_text(
                re.compile(rf"{done} of {goal} ratings — {goal - done} more for personal picks")
            )
        if done == 3:
            snap("02-three-rated")
    assert len(rate_posts) == goal, rate_posts

    # "Haven't seen it" takes the tile away and it stays away.
    skipped_tile = tiles.nth(goal)
    skipped_title = skipped_tile.locator(".card-title").inner_text()
    skipped_tile.get_by_test_id("skip").click()
    expect(page.get_by_role("link", name=skipped_title, exact=True)).to_have_count(0)
    assert SkippedMovie.objects.filter(user__username=USERNAME).count() == 1
    snap("03-skipped")

    # The reward: a clear way to the personal list (and the grid keeps going).
    expect(progress).to_have_text(re.compile(rf"{goal} ratings — enough for personal picks"))
    reward = page.get_by_role("link", name="Your personal recommendations are ready →")
    expect(reward).to_be_visible()
    snap("04-reward")
    saved = Rating.objects.filter(user__username=USERNAME).values_list("movie__title", flat=True)
    assert set(saved) == set(rated_titles)

    # A reload: what was rated or skipped is not offered again.
    page.reload()
    shown = set(page.locator("[data-testid=onboarding-tile] .card-title").all_inner_texts())
    assert not shown & {*rated_titles, skipped_title}

    reward = page.get_by_role("link", name="Your personal recommendations are ready →")
    reward.click()
    expect(page).to_have_url(re.compile(r"/recommendations/$"))
    expect(page.get_by_test_id("recommendation").first).to_be_visible()
    assert page.get_by_test_id("fallback-reason").count() == 0
    reason = page.get_by_test_id("because").first.inner_text()
    assert reason.lower().startswith("because you liked"), reason
    titles = set(page.locator("[data-testid=recommendation] .card-title").all_inner_texts())
    assert not titles & set(rated_titles)
    snap("05-personal-picks")
    assert not errors, errors


def test_keyboard_rating_saves_on_enter_only_and_keeps_focus(
    live_server, page, demo_site, screenshot_dir, django_user_model
):
    user = django_user_model.objects.create_user(username="keys", password=PASSWORD)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("log in", re.I)).click()
    page.goto(f"{live_server.url}/movies/start/")

    posts = []
    page.on(
        "request",
        lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith("/rate/") else None,
    )
    tile = page.get_by_test_id("onboarding-tile").first
    widget_id = tile.locator(".rating-widget").get_attribute("id")
    tile.get_by_label("5 stars", exact=True).focus()
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    chosen = tile.locator("input[type=radio]:checked").get_attribute("value")
    page.wait_for_timeout(300)  # would-be requests have had time to leave
    assert posts == [], "arrow keys must not save"
    expect(tile.locator(".widget-status")).to_contain_text("press Enter to save")
    page.screenshot(path=str(screenshot_dir / "onboarding-06-keyboard-choosing.png"))

    page.keyboard.press("Enter")
    expect(tile.get_by_test_id("card-your-rating")).to_contain_text(chosen)
    assert len(posts) == 1
    assert str(Rating.objects.get(user=user).score) == chosen
    # Focus stays on the widget's stars after the swap (put back when htmx settles).
    page.wait_for_function(
        "([id, value]) => document.activeElement?.closest('.rating-widget')?.id === id"
        " && document.activeElement.value === value",
        arg=[widget_id, chosen],
        timeout=3000,
    )
    page.screenshot(path=str(screenshot_dir / "onboarding-07-keyboard-saved.png"))

    # "Remove rating" by keyboard: focus comes back to the same stars.
    tile.get_by_role("button", name=re.compile("^Remove")).focus()
    page.keyboard.press("Enter")
    expect(tile.get_by_test_id("card-your-rating")).to_have_text("Not rated")
    assert not Rating.objects.filter(user=user).exists()
    assert len(posts) == 1  # the un-rate went to /rate/delete/
    # Focus is put back when htmx settles, a moment after the swap the text check sees: wait
    # for it (up to 3 s), and fail if it never comes back to the same stars.
    page.wait_for_function(
        "id => document.activeElement && document.activeElement.closest('.rating-widget')?.id"
        " === id",
        arg=widget_id,
        timeout=3000,
    )


def test_phone_header_stays_on_one_line_with_the_account_menu(
    live_server, page, demo_site, screenshot_dir, django_user_model
):
    user = django_user_model.objects.create_user(username="phone", password=PASSWORD)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("log in", re.I)).click()
    # Phone width: the header stays on one line.
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{live_server.url}/movies/start/")
    header = page.locator(".header-inner").bounding_box()
    brand = page.locator(".brand").bounding_box()
    menu = page.get_by_test_id("account-menu").bounding_box()
    nav_links = [a for a in page.locator(".site-nav > a").all() if a.is_visible()]
    assert header["height"] < 64, header
    for box in [brand, menu, *(a.bounding_box() for a in nav_links)]:
        assert abs((box["y"] + box["height"] / 2) - (brand["y"] + brand["height"] / 2)) < 12
        assert box["x"] + box["width"] <= 375
    page.screenshot(path=str(screenshot_dir / "onboarding-08-mobile-header.png"))
    page.get_by_test_id("account-menu").locator("summary").click()
    expect(page.get_by_role("link", name="Change password")).to_be_visible()
    menu_links = page.get_by_test_id("account-menu")
    expect(menu_links.get_by_role("link", name="Watchlist")).to_be_visible()
    expect(page.get_by_role("link", name="Account", exact=True)).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "onboarding-09-mobile-account-menu.png"))
