from django.urls import path

from . import views, views_marks, views_onboarding

app_name = "movies"

urlpatterns = [
    path("", views.browse, name="browse"),
    path("my-ratings/", views.my_ratings, name="my_ratings"),
    path("suggest/", views.suggest, name="suggest"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/rate/", views.rate, name="rate"),
    path("<int:pk>/rate/delete/", views.unrate, name="unrate"),
    # Watchlist and "not interested" (views_marks.py).
    path("watchlist/", views_marks.watchlist, name="watchlist"),
    path("not-interested/", views_marks.not_interested, name="not_interested"),
    path("<int:pk>/watchlist/", views_marks.watchlist_add, name="watchlist_add"),
    path("<int:pk>/watchlist/delete/", views_marks.watchlist_remove, name="watchlist_remove"),
    path("<int:pk>/hide/", views_marks.hide, name="hide"),
    path("<int:pk>/hide/delete/", views_marks.unhide, name="unhide"),
    # Onboarding: rate well-known films from a grid, skip the unseen ones.
    path("start/", views_onboarding.onboarding, name="onboarding"),
    path("start/progress/", views_onboarding.onboarding_progress, name="onboarding_progress"),
    path("<int:pk>/skip/", views_onboarding.skip, name="skip"),
]
