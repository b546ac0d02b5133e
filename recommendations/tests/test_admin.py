"""Admin: rebuild button, live status, activate and delete actions."""

import pytest
from django.urls import reverse

from recommendations import services
from recommendations.models import ModelVersion
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:recommendations_modelversion_changelist"
REBUILD = "admin:recommendations_modelversion_rebuild"
STATUS = "admin:recommendations_modelversion_status"


@pytest.fixture
def admin_client(client):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def test_changelist_has_the_rebuild_button_and_status(admin_client, catalog):
    html = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "Rebuild TF-IDF model" in html
    assert reverse(REBUILD) in html and 'name="csrfmiddlewaretoken"' in html
    assert 'hx-get="' + reverse(STATUS) in html
    assert "No build running." in html and "Active version: <strong>none</strong>" in html


def test_rebuild_button_builds_a_new_active_version(
    admin_client, catalog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse(REBUILD), follow=True)
    version = ModelVersion.objects.get()
    assert version.is_active and version.triggered_by == "admin:root"
    assert f"Rebuild queued as version {version.pk}." in response.content.decode()


def test_rebuild_requires_post_and_csrf(admin_client, catalog):
    assert admin_client.get(reverse(REBUILD)).status_code == 405
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(UserFactory(username="root2", is_staff=True, is_superuser=True))
    assert strict.post(reverse(REBUILD)).status_code == 403
    assert not ModelVersion.objects.exists()


def test_rebuild_requires_staff(client, user, catalog):
    client.force_login(user)
    response = client.post(reverse(REBUILD))
    assert response.status_code == 302 and "/login" in response["Location"]
    assert not ModelVersion.objects.exists()


def test_second_rebuild_while_running_says_already_running(admin_client, catalog):
    ModelVersion.objects.create(
        triggered_by="other",
        status="building",
        progress_message="Fitting TF-IDF",
        progress_current=1,
        progress_total=3,
    )
    response = admin_client.post(reverse(REBUILD), follow=True)
    assert "A build is already running" in response.content.decode()
    assert ModelVersion.objects.count() == 1
    status = admin_client.get(reverse(STATUS)).content.decode()
    assert "Build running:" in status and "Fitting TF-IDF" in status and "33%" in status


def test_activate_action_rolls_back(admin_client, catalog):
    v1 = services.build_model(triggered_by="test")
    v2 = services.build_model(triggered_by="test")
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "activate_selected", "_selected_action": [v1.pk]},
        follow=True,
    )
    assert f"Version {v1.pk} is now active." in response.content.decode()
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert v1.is_active and not v2.is_active


def test_activate_action_refuses_failed_versions(admin_client, catalog):
    failed = ModelVersion.objects.create(triggered_by="x", status="failed")
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "activate_selected", "_selected_action": [failed.pk]},
        follow=True,
    )
    assert "only ready versions" in response.content.decode()
    assert not ModelVersion.objects.active().exists()


def test_delete_action_refuses_the_active_version(admin_client, catalog):
    v1 = services.build_model(triggered_by="test")
    v2 = services.build_model(triggered_by="test")
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "delete_selected_versions", "_selected_action": [v1.pk, v2.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "Deleted 1 version(s)." in html and "is active" in html
    assert list(ModelVersion.objects.values_list("pk", flat=True)) == [v2.pk]
    assert not v1.artifact_dir.exists() and v2.artifact_dir.exists()
