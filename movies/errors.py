"""The one error root of the catalog app.

Every error the movies app raises on purpose derives from ``CatalogError`` and carries a
message meant for people, so commands, the admin and views catch one type and show
``str(exc)``.
"""


class CatalogError(Exception):
    """Something the catalog could not do; ``str(exc)`` / ``.message`` is for people."""

    def __init__(self, message: str = "", *args):
        super().__init__(message, *args)
        self.message = message

    def __str__(self) -> str:
        return self.message
