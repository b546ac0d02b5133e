"""Site-wide request guards."""

from __future__ import annotations

from django.http import HttpResponseBadRequest

NUL = "\x00"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NUL_MESSAGE = (
    "Bad request: the address, a query parameter, a form field or a cookie contains a NUL "
    "character (\\x00 or %00), which this site never accepts."
)


def _has_nul(querydict) -> bool:
    return any(NUL in key or any(NUL in v for v in values) for key, values in querydict.lists())


class RejectNulMiddleware:
    """Answer 400 to any request carrying a NUL byte in its path, query string, form fields
    or cookies.

    PostgreSQL text cannot hold NUL: psycopg raises ValueError on the first query that binds
    one (an admin list filter, a search box, a session cookie lookup), and that used to be a
    500. No view has any use for NUL, so it is refused once, here, before any view or query
    runs, instead of view by view. Registered near the top of MIDDLEWARE.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._carries_nul(request):
            return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _carries_nul(request) -> bool:
        # request.path and request.GET are already percent-decoded: %00 arrives as "\x00".
        if NUL in request.path or NUL in request.path_info or _has_nul(request.GET):
            return True
        if any(NUL in k or NUL in v for k, v in request.COOKIES.items()):
            return True
        # Only bodies Django parses into request.POST; other bodies (JSON, uploads read as
        # a stream) are left unread so views can still use request.body.
        if request.method == "POST" and request.content_type in FORM_TYPES:
            return _has_nul(request.POST)
        return False
