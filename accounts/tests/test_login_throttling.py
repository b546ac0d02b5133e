"""django-axes: wrong passwords lock out one username from one address, and only that."""

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.security import client_ip

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")


def attempt(client, username, password, ip="192.0.2.10"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail(client, username, times, ip="192.0.2.10"):
    for _ in range(times):
        attempt(client, username, "wrong-password", ip)


def test_thirty_wrong_passwords_then_the_right_one_does_not_log_in(client, user, password):
    fail(client, "alice", 30)
    response = attempt(client, "alice", password)
    assert response.status_code == 429
    assert not logged_in(client)
    page = response.content.decode()
    assert "Too many failed log-ins" in page
    assert "After 5 wrong passwords for <strong>alice</strong>" in page
    assert "paused for 15 minutes" in page
    assert "registration/locked_out.html" in [t.name for t in response.templates]


def test_lockout_starts_at_the_failure_limit(client, user, password, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    fail(client, "alice", 4)
    assert attempt(client, "alice", password).status_code == 302  # 4 < 5: still allowed
    assert logged_in(client)


def test_success_resets_the_count(client, user, password):
    fail(client, "alice", 4)
    assert attempt(client, "alice", password).status_code == 302
    client.logout()
    fail(client, "alice", 4)
    assert attempt(client, "alice", password).status_code == 302
    assert logged_in(client)


def test_other_users_and_other_addresses_are_unaffected(client, user, other_user, password):
    fail(client, "alice", 10)
    # bob, from the same address
    assert attempt(client, "bob", password).status_code == 302
    # alice herself, from another address (another browser)
    elsewhere = Client()
    assert attempt(elsewhere, "alice", password, ip="198.51.100.7").status_code == 302
    assert logged_in(elsewhere)


def test_admin_deleting_the_access_attempt_unlocks(client, user, password, admin_client):
    fail(client, "alice", 6)
    assert attempt(client, "alice", password).status_code == 429
    locked = AccessAttempt.objects.get(username="alice")
    changelist = reverse("admin:axes_accessattempt_changelist")
    assert admin_client.get(changelist).status_code == 200
    response = admin_client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [locked.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert attempt(client, "alice", password).status_code == 302
    assert logged_in(client)


def test_axes_reset_username_command_unlocks(client, user, password):
    fail(client, "alice", 6)
    assert attempt(client, "alice", password).status_code == 429
    call_command("axes_reset_username", "alice")
    assert attempt(client, "alice", password).status_code == 302


def test_lockout_admin_refuses_a_bad_selection(admin_client, client, user):
    fail(client, "alice", 6)
    response = admin_client.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "index": "0", "_selected_action": ["abc"]},
        follow=True,
    )
    assert response.status_code == 200
    assert AccessAttempt.objects.count() == 1


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (0, "203.0.113.5", "192.0.2.10"),  # no proxy: the header is the client's word only
        (1, "203.0.113.5", "203.0.113.5"),
        (1, "6.6.6.6, 203.0.113.5", "203.0.113.5"),  # a spoofed left part is ignored
        (2, "6.6.6.6, 203.0.113.5, 10.0.0.2", "203.0.113.5"),
        (2, "203.0.113.5", "192.0.2.10"),  # fewer entries than proxies: not trusted
    ],
)
def test_client_ip_behind_trusted_proxies(rf, settings, count, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = count
    request = rf.get("/", REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
