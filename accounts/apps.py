from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from .backends import forget_cached_user

        # The session's user row is cached (backends.PeopleBackend.get_user): any change
        # to a user drops it.
        user = get_user_model()
        post_save.connect(forget_cached_user, sender=user, dispatch_uid="accounts.forget_user")
        post_delete.connect(
            forget_cached_user, sender=user, dispatch_uid="accounts.forget_user_deleted"
        )
