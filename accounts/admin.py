from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from netflixrecs.admin_tools import SafeActionsMixin

from .models import User


@admin.register(User)
class UserAdmin(SafeActionsMixin, BaseUserAdmin):
    list_display = [*BaseUserAdmin.list_display, "dataset"]
    list_filter = [*BaseUserAdmin.list_filter, "dataset"]
    readonly_fields = ["dataset", "dataset_user_id"]
    fieldsets = [*BaseUserAdmin.fieldsets, ("Imported", {"fields": ["dataset", "dataset_user_id"]})]


# django-axes registers its admin (AXES_ENABLE_ADMIN, on by default); re-registered here so a
# bad _selected_action is refused like everywhere else. Deleting an access attempt (one row,
# or the "Delete selected" action) unlocks that username + address at once.
admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class LockoutAdmin(SafeActionsMixin, AccessAttemptAdmin):
    pass
