"""Admin entry points of TMDB syncs: the button, the live panel, the movie action."""

from __future__ import annotations

import pytest
from django.urls import reverse

from movies.models import Movie, SyncRun
from movies.services.tmdb_sync import sync_popular

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-12345!")
    client.force_login(admin)
    return client


def test_admin_button_syncs_and_rebuilds(
    fake_tmdb, admin_client_, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(reverse("admin:movies_syncrun_sync"), {"pages": "2"})
    assert response.status_code == 302
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.SUCCEEDED and run.created == 40
    assert run.model_version_id is not None and run.triggered_by == "admin: root"
    page = admin_client_.get(reverse("admin:movies_syncrun_changelist"))
    assert b"Sync from TMDB and rebuild the model" in page.content
    assert b"No sync running" in page.content and b"40 created" in page.content
    status = admin_client_.get(reverse("admin:movies_syncrun_status"))
    assert b"Last sync: #" in status.content


def test_admin_button_rejects_bad_pages(fake_tmdb, admin_client_):
    response = admin_client_.post(reverse("admin:movies_syncrun_sync"), {"pages": "0"}, follow=True)
    assert b"Pages must be a whole number from 1 to 500" in response.content
    assert not SyncRun.objects.exists()
    assert admin_client_.get(reverse("admin:movies_syncrun_sync")).status_code == 405


def test_admin_shows_a_running_sync_and_refuses_a_second(fake_tmdb, admin_client_):
    SyncRun.objects.create(status=SyncRun.Status.RUNNING, pages=5, progress_total=100)
    response = admin_client_.post(reverse("admin:movies_syncrun_sync"), {"pages": "1"}, follow=True)
    assert b"already queued or running" in response.content
    assert b"Sync running:" in response.content
    assert SyncRun.objects.count() == 1


def test_movie_admin_action_refreshes_selected(
    fake_tmdb, admin_client_, django_capture_on_commit_callbacks
):
    sync_popular(pages=1)
    Movie.objects.filter(tmdb_id__in=[100, 101]).update(vote_count=1)
    ids = list(Movie.objects.filter(tmdb_id__in=[100, 101]).values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            reverse("admin:movies_movie_changelist"),
            {"action": "sync_selected_from_tmdb", "_selected_action": ids},
        )
    assert response.status_code == 302
    run = SyncRun.objects.get()
    assert sorted(run.tmdb_ids) == [100, 101]
    assert (run.status, run.updated) == (SyncRun.Status.SUCCEEDED, 2)
    assert set(Movie.objects.filter(pk__in=ids).values_list("vote_count", flat=True)) == {120}
