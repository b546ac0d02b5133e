"""The star widget's radios, built in Python (movies/templatetags/movie_tags.py)."""

import re
from decimal import Decimal

from movies.templatetags.movie_tags import star_row


def test_star_row_has_ten_radios_highest_first_with_labels():
    html = star_row(7)
    values = re.findall(r'value="([0-9.]+)"', html)
    assert values == ["5.0", "4.5", "4.0", "3.5", "3.0", "2.5", "2.0", "1.5", "1.0", "0.5"]
    assert 'for="star-7-10" class="half right" title="5 stars"' in html
    assert 'id="star-7-1" required><span class="visually-hidden">0.5 stars</span>' in html
    assert 'title="1 star"' in html
    assert "checked" not in html


def test_star_row_checks_only_the_current_score_whatever_its_type():
    for score in (Decimal("3.5"), 3.5, "3.5"):
        html = star_row(7, score)
        assert html.count(" checked") == 1
        assert 'value="3.5" id="star-7-7" checked required' in html
    assert " checked" not in star_row(7, "")
