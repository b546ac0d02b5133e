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
