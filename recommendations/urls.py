from django.urls import path

from . import views

app_name = "recommendations"

urlpatterns = [
    path("recommendations/", views.for_you, name="for_you"),
    path("api/recommendations", views.api_recommendations, name="api"),
]
