"""Helpers every page view of the catalog shares: pagination with notices, a safe ``next``."""

from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.utils.http import url_has_allowed_host_and_scheme

PAGE_SIZE = 24


def paginate(request, items, per_page: int):
    """Page ``items`` by ``?page=``; a bad page number gives a notice, never a 500."""
    paginator = Paginator(items, per_page)
    raw = request.GET.get("page", "1")
    notices = []
    try:
        page = paginator.page(raw)
    except PageNotAnInteger:
        notices.append(f"Page “{raw[:20]}” is not a page number; showing page 1.")
        page = paginator.page(1)
    except EmptyPage:
        last = paginator.num_pages
        notices.append(f"There is no page {raw[:20]}; showing the last page ({last}).")
        page = paginator.page(last)
    return page, notices


def safe_next(request, fallback: str) -> str:
    """``next`` from the form when it points at this site, else ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
