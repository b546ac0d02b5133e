from django.shortcuts import get_object_or_404, render

from .models import Movie


def home(request):
    movies = Movie.objects.popular().for_cards()[:24]
    return render(request, "movies/home.html", {"movies": movies})


def browse(request):
    movies = Movie.objects.popular().for_cards()[:24]
    return render(request, "movies/browse.html", {"movies": movies})


def detail(request, pk: int):
    movie = get_object_or_404(Movie.objects.with_details(), pk=pk)
    return render(request, "movies/detail.html", {"movie": movie})
