"""The fault suite's bookkeeping (bench/fault_suite.py): what the database must hold after a
run, computed from the responses the server acknowledged. Pure functions; nothing is timed and
no server is started."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "fault_suite.py"
spec = importlib.util.spec_from_file_location("fault_suite", SCRIPT)
fs = importlib.util.module_from_spec(spec)
sys.modules.setdefault("fault_suite", fs)  # dataclasses look their module up
spec.loader.exec_module(fs)

ACK, REJECTED, UNKNOWN = fs.ACK, fs.REJECTED, fs.UNKNOWN


def w(seq, action, score=None, outcome=ACK, user=1, movie=10):
    return fs.Write(user, movie, seq, action, score, outcome)


@pytest.mark.parametrize(
    ("status", "location", "expected"),
    [
        (302, "/movies/10/", ACK),
        (200, "", ACK),
        (302, "/accounts/login/?next=/movies/10/", REJECTED),
        (400, "", REJECTED),
        (403, "", REJECTED),
        (500, "", UNKNOWN),
        (502, "", UNKNOWN),
        (None, "", UNKNOWN),
    ],
)
def test_classify_write(status, location, expected):
    assert fs.classify_write(status, location) == expected


def test_last_acknowledged_write_wins():
    writes = [w(1, "rate", "3"), w(2, "rate", "4.5"), w(3, "unrate"), w(4, "rate", "2.0")]
    assert fs.expected_final(writes) == {(1, 10): frozenset({"2.0"})}


def test_order_is_the_users_sequence_not_the_list_order():
    writes = [w(3, "unrate"), w(1, "rate", "3"), w(2, "rate", "5")]
    assert fs.expected_final(writes) == {(1, 10): frozenset({None})}


def test_refused_writes_change_nothing():
    writes = [w(1, "rate", "4"), w(2, "unrate", outcome=REJECTED), w(3, "rate", "1", REJECTED)]
    assert fs.expected_final(writes) == {(1, 10): frozenset({"4.0"})}


def test_unknown_outcome_allows_its_effect_even_before_a_later_ack():
    # The server may still have been working on request 1 when request 2 was acknowledged.
    writes = [w(1, "unrate", outcome=UNKNOWN), w(2, "rate", "3.5")]
    assert fs.expected_final(writes) == {(1, 10): frozenset({"3.5", None})}


def test_nothing_acknowledged_keeps_the_initial_state():
    writes = [w(1, "rate", "5", REJECTED), w(2, "rate", "1", UNKNOWN)]
    assert fs.expected_final(writes, initial={(1, 10): 4}) == {(1, 10): frozenset({"4.0", "1.0"})}
    assert fs.expected_final([w(1, "unrate", outcome=REJECTED)]) == {(1, 10): frozenset({None})}


def test_users_and_movies_are_separate_keys():
    writes = [
        w(1, "rate", "4", user=1, movie=10),
        w(2, "unrate", user=1, movie=11),
        w(1, "rate", "2", user=2, movie=10),
    ]
    assert fs.expected_final(writes) == {
        (1, 10): frozenset({"4.0"}),
        (1, 11): frozenset({None}),
        (2, 10): frozenset({"2.0"}),
    }


def test_compare_finds_lost_phantom_and_wrong_ratings():
    expected = {
        (1, 10): frozenset({"4.0"}),  # in the database: ok
        (1, 11): frozenset({"3.0"}),  # missing: lost
        (1, 12): frozenset({None}),  # present: phantom
        (1, 13): frozenset({"5.0"}),  # other score: wrong
        (1, 14): frozenset({"2.0", None}),  # ambiguous, either is fine
    }
    actual = {(1, 10): "4", (1, 12): "1.5", (1, 13): "4.5"}
    c = fs.compare_ratings(expected, actual)
    assert (c.checked, c.matched, c.ambiguous) == (5, 2, 1)
    assert [k for k, *_ in c.lost] == [(1, 11)]
    assert [k for k, *_ in c.phantom] == [(1, 12)]
    assert [k for k, *_ in c.wrong] == [(1, 13)]
    assert not c.ok


def test_compare_accepts_the_exact_state():
    writes = [w(1, "rate", "4"), w(2, "rate", "4.5", movie=11), w(3, "unrate", movie=11)]
    c = fs.compare_ratings(fs.expected_final(writes), {(1, 10): "4.0"})
    assert c.ok and c.matched == 2


def test_duplicate_keys_and_scores():
    rows = [(1, 10, "4.0"), (1, 10, "3.0"), (2, 10, "1.0")]
    assert fs.duplicate_keys(rows) == {(1, 10): 2}
    assert fs.normalize_score("4") == "4.0" and fs.normalize_score(None) is None


def test_table_marks_failures():
    r = fs.Result("1 concurrency", "x")
    r.counts.update({"2xx": 3, "5xx": 1})
    r.check(False, "1 responses were 5xx")
    table = fs.markdown_table([r])
    assert "| 1 concurrency | x | 4 | 3 | 0 | 0 | 1 | 0 |" in table
    assert table.rstrip().endswith("FAIL |")
