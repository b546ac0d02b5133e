"""The real TMDB client against the fake TMDB server (no mocking of requests)."""

from __future__ import annotations

import email.utils
import json
import time

import pytest

from movies.tmdb import (
    AUTH_HELP,
    TMDBAuthError,
    TMDBClient,
    TMDBError,
    parse_retry_after,
)


def test_bearer_auth_popular_page_in_tmdb_shape(fake_tmdb):
    page = TMDBClient().popular_movies(page=1)
    assert page["page"] == 1
    assert page["total_results"] == 45 and page["total_pages"] == 3
    assert len(page["results"]) == 20
    pops = [m["popularity"] for m in page["results"]]
    assert pops == sorted(pops, reverse=True)
    assert {"id", "title", "genre_ids", "release_date"} <= set(page["results"][0])
    assert len(TMDBClient().popular_movies(page=3)["results"]) == 5


def test_api_key_auth_sent_as_query_parameter(fake_tmdb, settings):
    settings.TMDB_READ_TOKEN = ""
    settings.TMDB_API_KEY = fake_tmdb.api_key
    details = TMDBClient().movie_details(100)
    assert details["title"] == "Invented Film 0"
    assert details["keywords"] == {"keywords": [{"id": 5100, "name": "theme 100"}]}
    assert details["credits"] == {"cast": [], "crew": []}


def test_not_configured_is_a_clear_error(settings):
    settings.TMDB_READ_TOKEN = settings.TMDB_API_KEY = ""
    with pytest.raises(TMDBError, match="not configured"):
        TMDBClient()


def test_401_is_permanent_and_says_check_your_key(fake_tmdb, settings):
    settings.TMDB_READ_TOKEN = "wrong-token"
    with pytest.raises(TMDBAuthError) as info:
        TMDBClient().movie_details(100)
    assert info.value.status == 401
    assert AUTH_HELP in str(info.value)
    assert "Invalid API key" in str(info.value)  # TMDB's own status_message
    assert len(fake_tmdb.requests()) == 1  # never retried


def test_404_is_permanent(fake_tmdb):
    with pytest.raises(TMDBError) as info:
        TMDBClient().movie_details(999_999)
    assert info.value.status == 404
    assert not isinstance(info.value, TMDBAuthError)
    assert "could not be found" in str(info.value)
    assert len(fake_tmdb.requests()) == 1


def test_5xx_burst_is_retried(fake_tmdb):
    fake_tmdb.add_fault("movie", "500", times=2)
    fake_tmdb.add_fault("movie", "503", times=1)
    assert TMDBClient().movie_details(101)["id"] == 101
    assert [r.status for r in fake_tmdb.requests("movie")] == [500, 500, 503, 200]


def test_retries_give_up_with_the_status(fake_tmdb, settings):
    settings.TMDB_MAX_RETRIES = 2
    fake_tmdb.add_fault("movie", "503")
    with pytest.raises(TMDBError) as info:
        TMDBClient().movie_details(101)
    assert info.value.status == 503
    assert "gave up after 3 attempts" in str(info.value)
    assert len(fake_tmdb.requests("movie")) == 3


def test_429_waits_for_retry_after(fake_tmdb):
    fake_tmdb.add_fault("popular", "429", times=1, retry_after=0.4)
    assert TMDBClient().popular_movies(page=2)["page"] == 2
    first, second = fake_tmdb.requests("popular")
    assert (first.status, second.status) == (429, 200)
    # Backoff would be ~0.01 s here: the gap proves Retry-After was honoured.
    assert second.at - first.at >= 0.4


def test_timeout_does_not_hang(fake_tmdb, settings):
    settings.TMDB_MAX_RETRIES = 1
    fake_tmdb.add_fault("movie", "slow", delay=5, movie_id=102)
    started = time.monotonic()
    with pytest.raises(TMDBError, match="did not answer") as info:
        TMDBClient().movie_details(102)
    assert info.value.status is None
    assert len(fake_tmdb.requests("movie", movie_id=102)) == 2
    # Two 0.5 s read timeouts plus a small backoff, far below the fake's 5 s delay.
    assert time.monotonic() - started < 5


def test_malformed_json_is_a_permanent_error(fake_tmdb):
    fake_tmdb.add_fault("movie", "malformed", movie_id=103)
    with pytest.raises(TMDBError, match="malformed JSON"):
        TMDBClient().movie_details(103)
    assert len(fake_tmdb.requests("movie", movie_id=103)) == 1


def test_connection_errors_retried_and_key_redacted(settings):
    settings.TMDB_API_BASE = "http://127.0.0.1:9/3"  # discard port: nothing listens
    settings.TMDB_READ_TOKEN, settings.TMDB_API_KEY = "", "s3cret-key"
    settings.TMDB_MAX_RETRIES, settings.TMDB_BACKOFF_BASE = 1, 0.01
    with pytest.raises(TMDBError, match="could not reach TMDB") as info:
        TMDBClient().configuration()
    assert "s3cret-key" not in str(info.value)


def test_configuration_and_changes(fake_tmdb):
    client = TMDBClient()
    assert client.image_base_url() == "https://image.tmdb.org/t/p/"
    fake_tmdb.changed_ids = list(range(1, 251))
    ids = list(client.iter_changed_movie_ids(start_date="2026-11-01", end_date="2026-11-02"))
    assert ids == list(range(1, 251))
    assert len(fake_tmdb.requests("changes")) == 3  # 100 a page


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), ("0.5", 0.5), (None, None), ("soon", None), ("-4", 0.0)],
)
def test_parse_retry_after_seconds(header, expected):
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date():
    header = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= parse_retry_after(header) <= 31


def test_trickling_server_is_cut_off_at_the_deadline(fake_tmdb, settings):
    """One byte every 0.05 s never trips the 0.5 s read timeout; the deadline stops it."""
    settings.TMDB_REQUEST_DEADLINE = 0.4
    settings.TMDB_MAX_RETRIES = 1
    fault = fake_tmdb.add_fault("movie", "trickle", delay=0.05, movie_id=104)
    body_size = len(json.dumps(fake_tmdb.details(fake_tmdb.by_id[104], {"keywords", "credits"})))
    with pytest.raises(TMDBError, match="within the 0.4s deadline") as info:
        TMDBClient().movie_details(104)
    assert info.value.status is None  # transient: retried like a timeout
    assert "gave up after 2 attempts" in str(info.value)
    assert len(fake_tmdb.requests("movie", movie_id=104)) == 2
    # The client hung up long before the body was complete, on both attempts.
    assert fault.sent < body_size


def test_trickle_within_the_deadline_is_fine(fake_tmdb, settings):
    settings.TMDB_REQUEST_DEADLINE = 30.0
    fake_tmdb.add_fault("configuration", "trickle", delay=0.001, times=1)
    assert TMDBClient().image_base_url() == "https://image.tmdb.org/t/p/"


@pytest.mark.parametrize("hide_length", [False, True])
def test_huge_body_is_refused_without_reading_it_all(fake_tmdb, settings, hide_length):
    settings.TMDB_MAX_RESPONSE_BYTES = 100_000
    size = 64 * 1024 * 1024
    fault = fake_tmdb.add_fault("movie", "huge", size=size, hide_length=hide_length)
    with pytest.raises(TMDBError, match="too large") as info:
        TMDBClient().movie_details(105)
    assert info.value.status == 200
    expected = "(more than " if hide_length else "(Content-Length 67,108,864 bytes"
    assert expected in str(info.value)
    assert len(fake_tmdb.requests("movie")) == 1  # permanent: never retried
    # Refused up front (Content-Length) or after at most the limit plus one read, while the
    # server still had most of the body to send.
    assert fault.sent < size


def test_body_at_the_limit_is_accepted(fake_tmdb, settings):
    body = json.dumps(fake_tmdb.details(fake_tmdb.by_id[106], {"keywords", "credits"}))
    settings.TMDB_MAX_RESPONSE_BYTES = len(body)
    assert TMDBClient().movie_details(106)["id"] == 106
    settings.TMDB_MAX_RESPONSE_BYTES = len(body) - 1
    with pytest.raises(TMDBError, match="too large"):
        TMDBClient().movie_details(106)


def test_details_of_another_movie_are_refused_and_not_retried(fake_tmdb):
    fake_tmdb.add_fault("movie", "wrong_id", movie_id=107)
    with pytest.raises(TMDBError, match="details of movie 108, not 107") as info:
        TMDBClient().movie_details(107)
    assert info.value.status == 200
    assert len(fake_tmdb.requests("movie", movie_id=107)) == 1
