from django.urls import path

from . import views, views_hide

app_name = "recommendations"

urlpatterns = [
    path("recommendations/", views.for_you, name="for_you"),
    path("api/recommendations", views.api_recommendations, name="api"),
    path("recommendations/hide/<int:movie_id>/", views_hide.hide, name="hide"),
    path("recommendations/unhide/<int:movie_id>/", views_hide.unhide, name="unhide"),
]
