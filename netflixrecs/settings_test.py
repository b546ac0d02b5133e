"""Test settings: the real settings, minus what makes a test suite needlessly slow.

pytest uses this module (``DJANGO_SETTINGS_MODULE`` in pyproject.toml); everything else,
including the database and Redis chosen by the environment, is exactly what the site runs.
"""

from .settings import *  # noqa: F403

# PBKDF2 at full strength costs ~0.3 s a hash on this machine; every factory user and every
# login pays it. MD5 is fine for throwaway test accounts and never used outside tests.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Mails are collected in django.core.mail.outbox, never printed.
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
