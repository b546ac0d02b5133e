"""Authentication backend: Django's ModelBackend, for people only, with the session's user
row kept in the cache."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache

# Every signed-in request loads its user (AuthenticationMiddleware -> get_user); the row is
# kept in the shared cache this long, and dropped whenever the user is saved or deleted
# (forget_cached_user, connected in AccountsConfig.ready()), so a password change or a
# deactivation takes effect on the next request in every worker: Django's session-hash
# check (django.contrib.auth.get_user) still compares against the current password.
# A bulk .update() of users does not send signals: it shows within this time.
USER_CACHE_SECONDS = 300


def _user_key(user_id) -> str:
    return f"auth-user:{user_id}"


def forget_cached_user(sender, instance, **kwargs) -> None:
    """post_save / post_delete of a user: the next request reads the row again."""
    cache.delete(_user_key(instance.pk))


class PeopleBackend(ModelBackend):
    """Refuses accounts imported with a dataset (``User.dataset`` set), even if an admin ever
    gives one a password: they hold a dataset's ratings, nobody owns them. Sessions of such an
    account are refused too (``get_user`` uses the same check)."""

    def user_can_authenticate(self, user):
        return super().user_can_authenticate(user) and not getattr(user, "dataset", "")

    def get_user(self, user_id):
        """ModelBackend.get_user, from the cache when the row is kept there (see above)."""
        key = _user_key(user_id)
        user = cache.get(key)
        if user is None:
            try:
                user = get_user_model()._default_manager.get(pk=user_id)
            except get_user_model().DoesNotExist:
                return None
            cache.set(key, user, USER_CACHE_SECONDS)
        return user if self.user_can_authenticate(user) else None
