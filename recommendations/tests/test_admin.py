"""Admin: rebuild button, the job panel (view permission), activate, delete and "mark stuck
builds failed" actions, and whether the active version loads."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from recommendations import builds, loading, pipeline
from recommendations.models import ModelVersion
from recommendations.tests.factories import ModelVersionFactory
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
    assert "Rebuild model" in html
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
    ModelVersionFactory(
        triggered_by="other",
        status="running",
        progress_message="Fitting TF-IDF",
        progress_done=1,
        progress_total=3,
        heartbeat_at=timezone.now(),
    )
    response = admin_client.post(reverse(REBUILD), follow=True)
    assert "A build is already running" in response.content.decode()
    assert ModelVersion.objects.count() == 1
    status = admin_client.get(reverse(STATUS)).content.decode()
    assert "Build running:" in status and "Fitting TF-IDF" in status and "33%" in status


def test_activate_action_rolls_back(admin_client, catalog):
    v1 = builds.build_model(triggered_by="test")
    v2 = builds.build_model(triggered_by="test")
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
    failed = ModelVersionFactory(status="failed")
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "activate_selected", "_selected_action": [failed.pk]},
        follow=True,
    )
    assert "only ready versions" in response.content.decode()
    assert not ModelVersion.objects.active().exists()


def test_delete_action_refuses_the_active_version(admin_client, catalog):
    v1 = builds.build_model(triggered_by="test")
    v2 = builds.build_model(triggered_by="test")
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "delete_selected_versions", "_selected_action": [v1.pk, v2.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "Deleted 1 version(s)." in html and "is active" in html
    assert list(ModelVersion.objects.values_list("pk", flat=True)) == [v2.pk]
    assert not v1.artifact_dir.exists() and v2.artifact_dir.exists()


def test_status_panel_requires_view_permission(client, catalog):
    staff = UserFactory(username="staff", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse(STATUS)).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_modelversion"))
    response = client.get(reverse(STATUS))
    assert response.status_code == 200 and "No build running." in response.content.decode()


def test_status_panel_uses_the_job_panel(admin_client, catalog):
    response = admin_client.get(reverse(STATUS))
    assert [t.name for t in response.templates][:2] == [
        "admin/recommendations/modelversion/_status.html",
        "admin/jobs/_status.html",
    ]
    assert 'data-testid="build-status"' in response.content.decode()


def test_mark_stuck_builds_failed_action(admin_client, catalog):
    stuck = ModelVersionFactory(status="running", heartbeat_at=timezone.now())
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "mark_stuck_jobs_failed", "_selected_action": [stuck.pk]},
        follow=True,
    )
    assert "Marked 1 job(s) failed." in response.content.decode()
    stuck.refresh_from_db()
    assert stuck.status == "failed" and "admin by root" in stuck.error
    # ...and a new build can start.
    assert builds.build_model(triggered_by="test").is_active


def test_panel_and_list_say_when_the_active_version_cannot_be_loaded(
    admin_client, catalog, space_fan
):
    v1 = builds.build_model(triggered_by="test")
    v2 = builds.build_model(triggered_by="test")
    path = v2.artifact_dir / "data.npy"
    path.parent.chmod(0o755)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-8])
    loading.reset_cache()
    assert pipeline.recommend_for_user(user=space_fan).model_version == v1.pk
    status = admin_client.get(reverse(STATUS)).content.decode()
    assert f"Active version {v2.pk} cannot be loaded" in status
    assert f"serving version {v1.pk}" in status
    changelist = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "cannot be loaded" in changelist
