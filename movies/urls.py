from django.urls import path

from . import views, views_onboarding

app_name = "movies"

urlpatterns = [
    path("", views.browse, name="browse"),
    path("my-ratings/", views.my_ratings, name="my_ratings"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/rate/", views.rate, name="rate"),
    path("<int:pk>/rate/delete/", views.unrate, name="unrate"),
    # Onboarding: rate well-known films from a grid, skip the unseen ones.
    path("start/", views_onboarding.onboarding, name="onboarding"),
    path("start/progress/", views_onboarding.onboarding_progress, name="onboarding_progress"),
    path("<int:pk>/skip/", views_onboarding.skip, name="skip"),
]
