"""Building blocks for the project's ModelAdmins: bad input in the admin's URL or POST gives a
message, never a 500."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db import connection


class ValidatedListFilter(admin.SimpleListFilter):
    """A SimpleListFilter that only ever filters by one of its own ``lookups()`` values.

    Anything else in the query string (``?decade=abc``, a hand-edited link) shows the
    unfiltered list with a warning instead of reaching the database. Subclasses implement
    ``filter(queryset, value)`` with a value that is known to be valid.
    """

    def queryset(self, request, queryset):
        value = self.value()
        if value is None or value == "":
            return queryset
        allowed = {str(key) for key, _label in self.lookup_choices}
        if value not in allowed:
            messages.warning(
                request,
                f"“{value[:40]}” is not a valid {self.title} filter; showing everything.",
            )
            return queryset
        return self.filter(queryset, value)

    def filter(self, queryset, value: str):
        raise NotImplementedError


class SafeActionsMixin:
    """Refuses admin actions on selected ids that are not valid primary keys.

    Django's admin passes ``_selected_action`` values straight to ``filter(pk__in=...)``,
    where a non-numeric value raises ValueError (a 500). This checks them first and answers
    with a message and the list again, as Django does when nothing is selected.
    """

    def response_action(self, request, queryset):
        pk_field = self.model._meta.pk
        low, high = connection.ops.integer_field_range(pk_field.get_internal_type())
        for raw in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            try:
                value = pk_field.to_python(raw)
            except ValidationError:
                value = None
            # Integer keys must also fit the column, or the database refuses the query.
            if value is None or (
                isinstance(value, int)
                and ((low is not None and value < low) or (high is not None and value > high))
            ):
                self.message_user(
                    request,
                    f"“{str(raw)[:40]}” is not a valid selection; no action was taken.",
                    messages.ERROR,
                )
                return None
        return super().response_action(request, queryset)
