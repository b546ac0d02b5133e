"""The session's user row is cached (accounts.backends.PeopleBackend.get_user), and every
change to the user drops it: a password change elsewhere still ends other sessions, a
deactivated or dataset account is still refused."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from accounts.backends import PeopleBackend

pytestmark = pytest.mark.django_db

ACCOUNT = "/accounts/"


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="accounts.backends.PeopleBackend")
    return client


def test_the_user_row_is_read_once_then_kept(user, django_assert_num_queries):
    backend = PeopleBackend()
    with django_assert_num_queries(1):
        assert backend.get_user(user.pk) == user
    with django_assert_num_queries(0):
        assert backend.get_user(user.pk) == user
    assert backend.get_user(10**9) is None


def test_a_password_change_elsewhere_ends_the_other_sessions(user):
    client = _signed_in(user)
    assert client.get(ACCOUNT).status_code == 200  # the row is now cached
    fresh = get_user_model().objects.get(pk=user.pk)  # another device, another process
    fresh.set_password("a-new-long-password-9")
    fresh.save()
    response = client.get(ACCOUNT)
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_a_deactivated_or_dataset_account_is_refused_at_once(user, other_user):
    client, other = _signed_in(user), _signed_in(other_user)
    assert client.get(ACCOUNT).status_code == 200
    assert other.get(ACCOUNT).status_code == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    other_user.dataset, other_user.dataset_user_id = "movielens", 7
    other_user.save()
    assert client.get(ACCOUNT).status_code == 302
    assert other.get(ACCOUNT).status_code == 302
    assert PeopleBackend().get_user(user.pk) is None
