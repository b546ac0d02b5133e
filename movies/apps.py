from django.apps import AppConfig


class MoviesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "movies"

    def ready(self):
        from django.core.signals import request_finished, request_started
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from . import checks, search  # noqa: F401 (checks: registered on import)
        from .forms import forget_genre_choices
        from .models import Credit, Genre, Keyword, Movie, Person
        from .signals import catalog_changed
        from .stamp import begin_request, end_request, touch_catalog

        # The search index of this process follows the catalog (movies/search.py).
        for signal in (post_save, post_delete):
            signal.connect(search.invalidate_index, sender=Movie, dispatch_uid="search-index")
        catalog_changed.connect(search.invalidate_index, dispatch_uid="search-index")
        # The browse form's cached genre options follow the genres.
        for signal in (post_save, post_delete):
            signal.connect(forget_genre_choices, sender=Genre, dispatch_uid="genre-choices")
        # The catalog stamp (movies/stamp.py) follows every catalog row the pages show.
        for model in (Movie, Genre, Keyword, Person, Credit):
            for signal in (post_save, post_delete):
                signal.connect(
                    touch_catalog, sender=model, dispatch_uid=f"catalog-stamp.{model.__name__}"
                )
        for through in (Movie.genres.through, Movie.keywords.through):
            m2m_changed.connect(
                touch_catalog, sender=through, dispatch_uid=f"catalog-stamp.{through.__name__}"
            )
        catalog_changed.connect(touch_catalog, dispatch_uid="catalog-stamp")
        request_started.connect(begin_request, dispatch_uid="catalog-stamp.begin")
        request_finished.connect(end_request, dispatch_uid="catalog-stamp.end")
