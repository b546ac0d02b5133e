"""/health/: database, cache, broker (when configured) and the recommendation model."""

import pytest

from recommendations import builds

pytestmark = pytest.mark.django_db

MODEL = "RecommendationModel()"


def health(client, **params):
    return client.get("/health/", {"format": "json", **params})


@pytest.fixture
def no_broker(settings):
    settings.CELERY_BROKER_URL = ""
    settings.CELERY_TASK_ALWAYS_EAGER = True


def test_healthy_with_an_active_model(client, catalog, no_broker):
    builds.build_model(triggered_by="test")
    response = health(client)
    assert response.status_code == 200
    assert response.json() == {
        "Database(alias='default')": "OK",
        "Cache(alias='default')": "OK",
        MODEL: "OK",
    }


def test_no_model_yet_is_a_warning_that_keeps_200(client, catalog, no_broker):
    response = health(client)
    assert response.status_code == 200
    assert response.json()[MODEL] == "Warning: no model version is active yet (popularity fallback)"


def test_active_model_that_does_not_load_here_fails_with_500(client, catalog, no_broker):
    version = builds.build_model(triggered_by="test")
    (version.artifact_dir / "indptr.npy").write_bytes(b"garbage")
    response = health(client)
    assert response.status_code == 500
    assert response.json()[MODEL] == (
        f"Unavailable: active model version {version.pk} does not load here"
    )


def test_json_by_accept_header_and_html_by_default(client, catalog, no_broker):
    builds.build_model(triggered_by="test")
    as_json = client.get("/health/", HTTP_ACCEPT="application/json")
    assert as_json["Content-Type"] == "application/json"
    assert as_json.json()[MODEL] == "OK"
    page = client.get("/health/")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert "System status: healthy" in page.content.decode()
    assert client.head("/health/").status_code == 200


def test_unreachable_broker_fails_and_does_not_leak_its_address(client, catalog, settings):
    builds.build_model(triggered_by="test")
    settings.CELERY_BROKER_URL = "redis://:s3cret@127.0.0.1:9/0"  # discard port: nothing listens
    settings.CELERY_TASK_ALWAYS_EAGER = False
    response = health(client)
    assert response.status_code == 500
    assert response.json()["CeleryBroker()"].startswith("Unavailable: cannot reach the broker")
    assert "s3cret" not in response.content.decode() and ":9" not in response.content.decode()


def test_reachable_broker_is_ok(client, catalog, settings):
    import os

    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs Redis (REDIS_URL); runs in the Postgres+Redis CI pass")
    builds.build_model(triggered_by="test")
    settings.CELERY_BROKER_URL = os.environ["REDIS_URL"]
    settings.CELERY_TASK_ALWAYS_EAGER = False
    response = health(client)
    assert response.status_code == 200, response.content
    assert response.json()["CeleryBroker()"] == "OK"
