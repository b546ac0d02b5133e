"""Sign up, log in/out, password change and reset (console email backend by default)."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db
User = get_user_model()
NEW_PASSWORD = "another-long-passphrase-42"


def test_signup_page_has_the_expected_labels(client):
    html = client.get(reverse("signup")).content.decode()
    for label in ("Username", "Password", "Password confirmation"):
        assert re.search(rf'<label for="id_\w+">{label}</label>', html), label


def test_signup_creates_account_logs_in_and_goes_to_onboarding(client):
    response = client.post(
        reverse("signup"),
        {"username": "carol", "email": "", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        follow=True,
    )
    assert response.redirect_chain == [(reverse("movies:onboarding"), 302)]
    assert response.context["user"].username == "carol"
    assert "Welcome, carol!" in response.content.decode()
    assert User.objects.filter(username="carol").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"password2": "not-the-same-123"}, "The two password fields didn’t match."),
        ({"password1": "123", "password2": "123"}, "This password is too short."),
        ({"username": "alice"}, "A user with that username already exists."),
    ],
)
def test_signup_refuses_bad_input_and_creates_nothing(client, user, data, message):
    before = User.objects.count()
    payload = {"username": "dave", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD} | data
    response = client.post(reverse("signup"), payload)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert User.objects.count() == before


def test_signed_in_user_is_sent_home_from_signup(auth_client):
    assert auth_client.get(reverse("signup"))["Location"] == reverse("home")


def test_login_and_logout(client, user):
    response = client.post(
        reverse("login"), {"username": "alice", "password": TEST_PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("home")
    assert response.context["user"].is_authenticated
    response = client.post(reverse("logout"), follow=True)
    assert not response.context["user"].is_authenticated


def test_login_with_wrong_password_shows_an_error(client, user):
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_respects_next(client, user):
    response = client.post(
        reverse("login") + "?next=/movies/my-ratings/",
        {"username": "alice", "password": TEST_PASSWORD, "next": "/movies/my-ratings/"},
    )
    assert response["Location"] == "/movies/my-ratings/"


def test_logout_needs_post(auth_client):
    assert auth_client.get(reverse("logout")).status_code == 405


def test_password_change(auth_client, user):
    page = auth_client.get(reverse("password_change"))
    assert page.status_code == 200 and "Change password" in page.content.decode()
    response = auth_client.post(
        reverse("password_change"),
        {
            "old_password": TEST_PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("password_change_done")
    assert "Your password was changed." in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_password_reset_by_email(client, user, mailoutbox):
    assert client.get(reverse("password_reset")).status_code == 200
    response = client.post(reverse("password_reset"), {"email": user.email}, follow=True)
    assert "Check your email" in response.content.decode()
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [user.email]
    assert mail.subject == "Reset your netflixrecs password"
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.body).group(1)
    # Django redirects the emailed link to a session-bound URL before showing the form.
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Password set" in done.content.decode()
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_password_reset_for_unknown_email_sends_nothing(client, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mailoutbox == []


def test_used_reset_link_is_refused(client, user, mailoutbox):
    client.post(reverse("password_reset"), {"email": user.email})
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mailoutbox[0].body).group(1)
    user.set_password(NEW_PASSWORD)  # changes the hash, which invalidates the token
    user.save()
    response = client.get(link, follow=True)
    assert "This link does not work" in response.content.decode()
