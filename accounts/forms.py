from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm


class SignUpForm(UserCreationForm):
    """Username + password, and an optional email so password reset can reach the user."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ["username", "email"]
