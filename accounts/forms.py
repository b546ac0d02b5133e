from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm


class SignUpForm(UserCreationForm):
    """Username + password, and an optional email so password reset can reach the user."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ["username", "email"]


class EmailForm(forms.ModelForm):
    """Change (or clear) the account's email; one address per person, whatever the case."""

    class Meta:
        model = get_user_model()
        fields = ["email"]
        help_texts = {"email": "Used for password reset only. Leave empty to remove it."}

    def clean_email(self):
        email = get_user_model().objects.normalize_email(self.cleaned_data.get("email") or "")
        email = email.strip()
        if email:
            taken = (
                get_user_model()
                .objects.filter(email__iexact=email)
                .exclude(pk=self.instance.pk)
                .exists()
            )
            if taken:
                raise forms.ValidationError("Another account already uses this email address.")
        return email


class ImportForm(forms.Form):
    file = forms.FileField(
        label="Ratings file (CSV)",
        help_text="A Letterboxd ratings.csv, an IMDb ratings export, a MovieLens ratings file, "
        "or a file exported here.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
