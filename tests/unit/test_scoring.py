"""The candidate scorer: a proper delay prior, and evidence that moves confidence."""

from __future__ import annotations

import itertools
import math

from callpath.domain import scoring
from callpath.domain.scoring import Evidence, delay_density, score

T = 1_800_000_000.0


def test_delay_prior_is_a_density_peaking_within_minutes() -> None:
    edges = [math.exp(x / 100) for x in range(0, 1400)]  # 1 s .. ~13 days
    mass = sum(delay_density((a + b) / 2) * (b - a) for a, b in itertools.pairwise(edges))
    assert 0.95 < mass < 1.01
    assert delay_density(120) > delay_density(3600) > delay_density(86_400 * 3)


def test_confidences_are_shares_of_the_weight() -> None:
    a = Evidence("a", "va", T - 300, T - 10, T + 300)
    b = Evidence("b", "vb", T - 5000, T - 4000, T - 3000)
    ranked = score(T, 30, [a, b], None)
    assert [s.evidence.session_id for s in ranked] == ["a", "b"]
    assert sum(s.confidence for s in ranked) < 1.0  # "someone else" keeps a share
    assert ranked[0].held and not ranked[1].held


def test_evidence_moves_the_score() -> None:
    base = Evidence("a", "va", T - 900, T - 600, T - 200)
    rival = Evidence("b", "vb", T - 800, T - 500, T - 100)
    plain = score(T, 30, [base, rival], None)[0].confidence
    tapped = Evidence("a", "va", T - 900, T - 600, T - 200, tapped_at=T - 60)
    assert score(T, 30, [tapped, rival], None)[0].evidence.session_id == "a"
    assert score(T, 30, [tapped, rival], None)[0].confidence > plain
    known = scoring.Caller("va", 0.95)
    assert score(T, 30, [base, rival], known)[0].evidence.session_id == "a"
    assert score(T, 30, [base, rival], known)[0].confidence > plain
    assert 0 < scoring.THRESHOLD < 1


def test_a_number_that_changes_hands_often_leaves_more_to_someone_else() -> None:
    late = Evidence("a", "va", T - 7200, T - 7000, T - 6900)
    quiet = [late]
    busy = [late] + [
        Evidence(f"o{i}", f"vo{i}", T - 7200 - 600 * i, T - 7200 - 600 * i, T - 7000 - 600 * i)
        for i in range(1, 30)
    ]
    assert scoring.other_weight(T, busy) > 5 * scoring.other_weight(T, quiet)
    assert score(T, 30, quiet)[0].confidence > score(T, 30, busy)[0].confidence


def test_a_redial_weighs_more_than_the_delay_since_the_visit() -> None:
    first = Evidence("first", "v1", T - 40_000, T - 39_800, T - 39_500)
    fresh = Evidence("fresh", "v2", T - 3000, T - 2800, T - 2500)
    plain = score(T, 30, [first, fresh])
    assert plain[0].evidence.session_id == "fresh"
    redial = scoring.Redial("first", "v1", T - 39_700, 0.99)
    ranked = score(T, 30, [first, fresh], scoring.Caller("v1", 0.99, redial))
    assert ranked[0].evidence.session_id == "first"
    assert ranked[0].confidence >= scoring.THRESHOLD
    assert "redial" in ranked[0].reason


def test_a_redial_is_no_surer_of_the_visit_than_its_earlier_call_was() -> None:
    first = Evidence("first", "v1", T - 40_000, T - 39_800, T - 39_500)
    fresh = Evidence("fresh", "v2", T - 3000, T - 2800, T - 2500)
    for earlier in (0.85, 0.99):
        redial = scoring.Redial("first", "v1", T - 120, earlier)  # redialled 2 min later
        ranked = score(T, 30, [first, fresh], scoring.Caller("v1", earlier, redial))
        assert ranked[0].evidence.session_id == "first"
        assert earlier - 0.05 < ranked[0].confidence <= earlier
    gone = scoring.Redial("gone", "v3", T - 120, 0.85)  # its visit is no longer a holder
    ranked = score(T, 30, [fresh], scoring.Caller("v3", 0.85, gone))
    assert ranked[0].evidence.session_id == "gone" and ranked[0].redial_only
    assert ranked[0].confidence <= 0.85
    present = Evidence("first", "v1", T - 300, T - 5, T + 60)  # and still on the page
    unsure = scoring.Redial("first", "v1", T - 120, 0.85)
    ranked = score(T, 30, [present], scoring.Caller("v1", 0.85, unsure))
    assert ranked[0].confidence > 0.85  # its own evidence says more than the earlier call


def test_an_unsure_earlier_call_says_little_about_the_caller() -> None:
    first = Evidence("first", "v1", T - 40_000, T - 39_800, T - 39_500)
    fresh = Evidence("fresh", "v2", T - 3000, T - 2800, T - 2500)
    sure = score(T, 30, [first, fresh], scoring.Caller("v1", 0.99))
    unsure = score(T, 30, [first, fresh], scoring.Caller("v1", 0.3))
    share = {s.evidence.session_id: s.confidence for s in sure}
    unsure_share = {s.evidence.session_id: s.confidence for s in unsure}
    assert share["first"] > unsure_share["first"]
    assert share["fresh"] < unsure_share["fresh"]


def test_a_caller_from_abroad_favours_a_visit_from_that_country() -> None:
    home = Evidence("home", "v1", T - 900, T - 600, T - 200, country="RU")
    abroad = Evidence("abroad", "v2", T - 900, T - 600, T - 200, country="DE")
    domestic = {s.evidence.session_id: s.confidence for s in score(T, 30, [home, abroad])}
    assert domestic["home"] == domestic["abroad"]
    german = score(T, 30, [home, abroad], foreign_caller="DE")
    kazakh = {
        s.evidence.session_id: s.confidence
        for s in score(T, 30, [home, abroad], foreign_caller="KZ")
    }
    assert german[0].evidence.session_id == "abroad"
    assert german[0].confidence > domestic["abroad"]
    assert "caller's country" in german[0].reason
    assert kazakh == domestic


def test_a_visit_whose_hold_ended_rarely_makes_a_call_from_the_page() -> None:
    # the same timing, but one still holds the number and one's hold ended a minute ago
    held = Evidence("held", "v1", T - 120, T - 90, T + 30)
    gone = Evidence("gone", "v2", T - 120, T - 90, T - 60)
    assert scoring.released_density(120) < 0.2 * scoring.delay_density(120)
    assert scoring.released_density(7200) > 0.95 * scoring.delay_density(7200)
    ranked = score(T, 30, [gone, held])
    assert ranked[0].evidence.session_id == "held"
    tapped = Evidence("gone", "v2", T - 120, T - 90, T - 60, tapped_at=T - 80)
    assert score(T, 30, [tapped, held])[0].evidence.session_id == "gone"


def test_a_phone_holding_the_number_without_a_tap_weighs_less() -> None:
    """Calls from a page on a phone mostly begin with a tap on the number: a phone that
    holds it but did not tap is weaker evidence than a desktop that holds it; a tap, or
    a hold that has ended (a later call is dialled from memory), is not discounted."""
    left = Evidence("left", "v1", T - 1200, T - 1150, T - 1100)  # left 18 minutes ago
    phone = Evidence("now", "v2", T - 120, T - 10, T + 50, device="mobile")
    desktop = Evidence("now", "v2", T - 120, T - 10, T + 50, device="desktop")
    on_phone = {s.evidence.session_id: s.confidence for s in score(T, 30, [left, phone])}
    on_desk = {s.evidence.session_id: s.confidence for s in score(T, 30, [left, desktop])}
    assert on_phone["now"] < on_desk["now"] and on_phone["left"] > on_desk["left"]
    tapped = Evidence("now", "v2", T - 120, T - 10, T + 50, tapped_at=T - 30, device="mobile")
    assert score(T, 30, [left, tapped])[0].confidence > on_desk["now"]
    gone_phone = Evidence("gone", "v3", T - 4000, T - 3900, T - 3800, device="mobile")
    gone_desk = Evidence("gone", "v3", T - 4000, T - 3900, T - 3800, device="desktop")
    assert score(T, 30, [gone_phone])[0].confidence == score(T, 30, [gone_desk])[0].confidence
