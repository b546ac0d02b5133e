"""PostgreSQL only: trigram index for title search.

``search_title`` holds the folded title (lower case, no accents), so a plain trigram GIN
index serves both the substring match and the similarity match of MovieQuerySet.search().
On SQLite this migration does nothing: search falls back to a plain substring match.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEX = "movie_search_title_trgm"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON movies_movie "
            "USING gin (search_title gin_trgm_ops)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("movies", "0001_initial")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_index, drop_index),
    ]
