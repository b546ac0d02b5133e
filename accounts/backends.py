"""Authentication backend: Django's ModelBackend, for people only."""

from django.contrib.auth.backends import ModelBackend


class PeopleBackend(ModelBackend):
    """Refuses accounts imported with a dataset (``User.dataset`` set), even if an admin ever
    gives one a password: they hold a dataset's ratings, nobody owns them. Sessions of such an
    account are refused too (``get_user`` uses the same check)."""

    def user_can_authenticate(self, user):
        return super().user_can_authenticate(user) and not getattr(user, "dataset", "")
