#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys
from pathlib import Path


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netflixrecs.settings")
    if not os.environ.get("DATABASE_URL"):
        # The embedded default keeps its SQLite file under var/. Settings create no
        # directories at import time, so the command-line entry point makes sure it exists.
        (Path(__file__).resolve().parent / "var").mkdir(exist_ok=True)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
