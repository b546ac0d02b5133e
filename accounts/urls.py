from django.urls import include, path

from . import views

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    # Placeholder for the account page (profile, taste at a glance) built in issue 10 part 6.
    path("", views.account, name="account"),
    # login, logout, password_change(_done), password_reset(_done/_confirm/_complete)
    path("", include("django.contrib.auth.urls")),
]
