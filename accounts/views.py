import math

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .forms import SignUpForm


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="accounts.backends.PeopleBackend")
        messages.success(
            request, f"Welcome, {user.username}! Rate a few films you have seen to get started."
        )
        return redirect("movies:onboarding")
    return render(request, "registration/signup.html", {"form": form})


@require_http_methods(["GET", "HEAD"])
@login_required
def account(request):
    """Placeholder account page (the full page with taste charts replaces it)."""
    return render(request, "accounts/account.html")


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer once a username + address pair is locked out
    (``AXES_LOCKOUT_CALLABLE``): a page that says what happened and for how long, status 429."""
    cooloff = settings.AXES_COOLOFF_TIME
    minutes = math.ceil(cooloff.total_seconds() / 60) if cooloff else None
    username = (credentials or {}).get(settings.AXES_USERNAME_FORM_FIELD) or request.POST.get(
        settings.AXES_USERNAME_FORM_FIELD, ""
    )
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": minutes,
        "username": str(username)[:150],
    }
    return render(request, "registration/locked_out.html", context, status=429)
