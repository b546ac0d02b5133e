from django.apps import AppConfig


class MoviesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "movies"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from . import search
        from .forms import forget_genre_choices
        from .models import Genre, Movie
        from .signals import catalog_changed

        # The search index of this process follows the catalog (movies/search.py).
        for signal in (post_save, post_delete):
            signal.connect(search.invalidate_index, sender=Movie, dispatch_uid="search-index")
        catalog_changed.connect(search.invalidate_index, dispatch_uid="search-index")
        # The browse form's cached genre options follow the genres.
        for signal in (post_save, post_delete):
            signal.connect(forget_genre_choices, sender=Genre, dispatch_uid="genre-choices")
