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
