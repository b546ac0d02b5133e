from django.urls import path

from . import views

app_name = "movies"

urlpatterns = [
    path("", views.browse, name="browse"),
    path("my-ratings/", views.my_ratings, name="my_ratings"),
    path("suggest/", views.suggest, name="suggest"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/rate/", views.rate, name="rate"),
    path("<int:pk>/rate/delete/", views.unrate, name="unrate"),
]
