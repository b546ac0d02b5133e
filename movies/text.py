"""Text helpers shared by models, search and imports (no Django imports)."""

import unicodedata


def fold(text: str) -> str:
    """Lower-case ``text`` and strip accents, so "Amélie" matches "amelie".

    Used for the stored ``Movie.search_title`` and for the query, so both sides of a
    search compare the same folded form on every database.
    """
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())
