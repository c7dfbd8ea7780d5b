"""Profile numbers as every front end prints them: an estimate keeps its `~`, an exact count has none."""
from __future__ import annotations

from userlib.output import distinct_text, profile_summary


def test_estimated_distinct_counts_keep_their_tilde_and_exact_ones_do_not():
    stats = {"null_pct": 0.0, "distinct": 1000, "min": 1, "max": 1000}
    assert profile_summary(stats, exact=True) == "0% null, 1,000 distinct, 1…1000"
    assert profile_summary(stats) == "0% null, ~1,000 distinct, 1…1000"
    assert (distinct_text(50000, exact=True), distinct_text(45031, exact=False), distinct_text(None, exact=True)) \
        == ("50,000", "~45,031", "")


def test_exactness_is_the_profiles_word():
    from userlib.output import distinct_exact
    assert distinct_exact({"distinct": "exact"}) and not distinct_exact({"distinct": "estimate"})
    assert not distinct_exact({}) and not distinct_exact(None)  # profiles from before: estimates
