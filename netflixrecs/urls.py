from django.contrib import admin
from django.urls import include, path

from movies import views as movie_views
from netflixrecs.health import HealthView

urlpatterns = [
    path("", movie_views.home, name="home"),
    path("movies/", include("movies.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("recommendations.urls")),
    path("admin/", admin.site.urls),
    path("health/", HealthView.as_view(), name="health"),
]
