from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def for_you(request):
    return render(request, "recommendations/for_you.html", {})
