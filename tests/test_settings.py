"""Settings modes, checked in fresh subprocesses so each sees only the environment it is given."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "prod-" + "k3y-7Qz9xLm2Vb8Nc4Rt6Yw1Ps5Df0Gh3Jk" * 2


def _run(args, **env_overrides):
    ignored = {"SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE", "DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in ignored}
    env.pop("DJANGO_ENV", None)
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_passes_check_deploy_without_warnings():
    result = _run(
        ["check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_ENV="production",
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="netflixrecs.example",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_required_settings(missing):
    env = {"DJANGO_ENV": "production", "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "x.example"}
    del env[missing]
    result = _run(["check"], **env)
    assert result.returncode != 0
    assert f"Set the {missing} environment variable" in result.stderr


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
        assert cache == "django.core.cache.backends.redis.RedisCache"
        assert settings.CELERY_BROKER_URL.startswith("redis://")
        assert settings.CELERY_TASK_ALWAYS_EAGER is False
    else:
        assert cache.endswith("LocMemCache")
        assert settings.CELERY_TASK_ALWAYS_EAGER is True
