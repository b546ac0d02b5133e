"""Settings modes, checked in fresh subprocesses so each sees only the environment it is given."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "prod-" + "k3y-7Qz9xLm2Vb8Nc4Rt6Yw1Ps5Df0Gh3Jk" * 2
# What production needs besides the key and hosts: a broker, a shared cache and a real mail
# backend.
PROD = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": STRONG_KEY,
    "ALLOWED_HOSTS": "netflixrecs.example",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/9",
    "REDIS_URL": "redis://127.0.0.1:6379/9",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
}


def _env(**env_overrides) -> dict:
    ignored = {"SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE", "DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in ignored}
    # REDIS_URL too: it is the default broker, and the PostgreSQL+Redis pass sets it.
    for name in (
        "DJANGO_ENV",
        "EMAIL_URL",
        "REDIS_URL",
        "CELERY_BROKER_URL",
        "CELERY_TASK_ALWAYS_EAGER",
    ):
        env.pop(name, None)
    # The real settings module, not the test one pytest runs with.
    env["DJANGO_SETTINGS_MODULE"] = "netflixrecs.settings"
    env.update(env_overrides)
    return env


def _run(args, **env_overrides):
    return _run_command([sys.executable, "manage.py", *args], **env_overrides)


def _run_python(code: str, **env_overrides):
    """``python -c code`` with the real settings in the given environment."""
    return _run_command([sys.executable, "-c", code], **env_overrides)


def _run_command(command, **env_overrides):
    env = _env(**env_overrides)
    return subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_passes_check_deploy_without_warnings():
    result = _run(["check", "--deploy", "--fail-level", "WARNING"], **PROD)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_required_settings(missing):
    env = dict(PROD)
    del env[missing]
    result = _run(["check"], **env)
    assert result.returncode != 0
    assert f"Set the {missing} environment variable" in result.stderr


def test_check_deploy_warns_when_the_cache_is_local_to_each_process():
    env = dict(PROD)
    del env["REDIS_URL"]
    result = _run(["check", "--deploy", "--fail-level", "WARNING"], **env)
    assert result.returncode != 0
    assert "movies.W001" in result.stderr + result.stdout


def test_production_refuses_in_process_tasks_unless_asked_for():
    env = dict(PROD)
    del env["CELERY_BROKER_URL"], env["REDIS_URL"]  # REDIS_URL is the default broker
    refused = _run(["check"], **env)
    assert refused.returncode != 0
    assert "Production needs a Celery broker" in refused.stderr
    allowed = _run(["check"], **env, CELERY_TASK_ALWAYS_EAGER="true")
    assert allowed.returncode == 0, allowed.stderr


@pytest.mark.parametrize("email_url", [None, "consolemail://", "dummymail://"])
def test_production_refuses_to_start_without_a_real_mail_backend(email_url):
    env = dict(PROD)
    del env["EMAIL_URL"]
    if email_url:
        env["EMAIL_URL"] = email_url
    result = _run(["check"], **env)
    assert result.returncode != 0
    expected = "EMAIL_URL must name a real mail backend" if email_url else "Set the EMAIL_URL"
    assert expected in result.stderr


def test_settings_create_no_directories():
    """Importing the settings must not touch the disk (read-only containers, packaging)."""
    code = (
        "import os, pathlib\n"
        "def refuse(self, *a, **k): raise SystemExit(f'settings created {self}')\n"
        "pathlib.Path.mkdir = refuse\n"
        "os.makedirs = os.mkdir = refuse\n"
        "import netflixrecs.settings\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "netflixrecs.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_development_check_deploy_warns():
    """The development defaults are deliberately not deployable (DEBUG on, insecure key)."""
    result = _run(["check", "--deploy", "--fail-level", "WARNING"], DJANGO_ENV="development")
    assert result.returncode != 0
    assert "DEBUG" in result.stdout + result.stderr


def test_database_cache_and_celery_follow_the_environment(settings):
    """Nothing set: SQLite, locmem, eager Celery. DATABASE_URL/REDIS_URL: Postgres, Redis."""
    engine = settings.DATABASES["default"]["ENGINE"]
    cache = settings.CACHES["default"]["BACKEND"]
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        assert engine == "django.db.backends.postgresql"
    else:
        assert engine == "django.db.backends.sqlite3"
    if os.environ.get("REDIS_URL"):
        assert cache == "netflixrecs.cache.RedisCache"  # Django's, one client per pool
        assert settings.CELERY_BROKER_URL.startswith("redis://")
        assert settings.CELERY_TASK_ALWAYS_EAGER is False
    else:
        assert cache.endswith("LocMemCache")
        assert settings.CELERY_TASK_ALWAYS_EAGER is True


def test_a_visibility_timeout_shorter_than_a_build_is_refused():
    refused = _run(["check"], CELERY_VISIBILITY_TIMEOUT="600", RECS_BUILD_TIME_LIMIT="1920")
    assert refused.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT must exceed RECS_BUILD_TIME_LIMIT" in refused.stderr
    accepted = _run(["check"], CELERY_VISIBILITY_TIMEOUT="3000", RECS_BUILD_TIME_LIMIT="1920")
    assert accepted.returncode == 0, accepted.stderr
