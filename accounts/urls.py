from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.account, name="account"),
    path("email/", views.change_email, name="account_email"),
    path("export/ratings.csv", views.export_ratings, name="account_export"),
    path("export/letterboxd.csv", views.export_letterboxd, name="account_export_letterboxd"),
    path("import/", views.import_ratings, name="account_import"),
    path("import/<int:pk>/", views.import_detail, name="account_import_detail"),
    path("import/<int:pk>/status/", views.import_status, name="account_import_status"),
    path("import/<int:pk>/confirm/", views.import_confirm, name="account_import_confirm"),
    path("import/<int:pk>/discard/", views.import_discard, name="account_import_discard"),
    path("signup/", views.signup, name="signup"),
    # login, logout, password_change(_done), password_reset(_done/_confirm/_complete)
    path("", include("django.contrib.auth.urls")),
]
