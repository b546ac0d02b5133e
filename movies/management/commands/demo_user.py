"""manage.py demo_user [--password PW]: create the demo login, or reset its password.

Idempotent: running it again keeps a single ``demo`` user and sets the password given
(default ``netflixrecs-demo``), then prints the login so ``make demo`` can show it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from movies.services.demo import DEFAULT_DEMO_PASSWORD, DEMO_USERNAME, ensure_demo_user


class Command(BaseCommand):
    help = f"Create (or reset the password of) the '{DEMO_USERNAME}' login and print it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            default=DEFAULT_DEMO_PASSWORD,
            help=f"password for the demo login (default: {DEFAULT_DEMO_PASSWORD})",
        )
        parser.add_argument(
            "--admin",
            action="store_true",
            help="also make it a superuser, to try Django admin locally (refused in production)",
        )

    def handle(self, *args, password, admin, **options):
        if not password.strip():
            raise CommandError("--password must not be empty or blank.")
        if admin and settings.PRODUCTION:
            raise CommandError("--admin is for local demos; it is refused in production.")
        _, created = ensure_demo_user(username=DEMO_USERNAME, password=password, admin=admin)
        if created:
            self.stderr.write(f"Created user '{DEMO_USERNAME}'.")
        else:
            self.stderr.write(f"User '{DEMO_USERNAME}' exists; password reset.")
        role = " (also a Django admin superuser)" if admin else ""
        self.stdout.write(self.style.SUCCESS(f"Demo login: {DEMO_USERNAME} / {password}{role}"))
