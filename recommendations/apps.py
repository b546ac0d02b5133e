from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "recommendations"

    def ready(self) -> None:
        # The catalog announces changes; the recommender decides what to rebuild.
        from movies.signals import catalog_changed

        # The per-process model cache listens to version_activated (models send it).
        from . import loading  # noqa: F401
        from .receivers import rebuild_on_catalog_change

        catalog_changed.connect(
            rebuild_on_catalog_change, dispatch_uid="recommendations.rebuild_on_catalog_change"
        )
        self._forget_names_on_catalog_edits()

    @staticmethod
    def _forget_names_on_catalog_edits() -> None:
        """Explanations keep the cited movies' names in the process (explain.term_lookups);
        an edit of a name, or of which names a movie has, empties them here."""
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from movies.models import Credit, Genre, Keyword, Movie, Person

        from .explain import forget_term_lookups

        for model in (Movie, Genre, Keyword, Person, Credit):
            uid = f"recommendations.forget_names.{model.__name__}"
            post_save.connect(forget_term_lookups, sender=model, dispatch_uid=f"{uid}.save")
            post_delete.connect(forget_term_lookups, sender=model, dispatch_uid=f"{uid}.delete")
        for through in (Movie.genres.through, Movie.keywords.through):
            m2m_changed.connect(
                forget_term_lookups,
                sender=through,
                dispatch_uid=f"recommendations.forget_names.m2m.{through.__name__}",
            )
