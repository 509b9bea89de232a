"""The expectations of an ablation config (``expectations:`` in conf/ablation.yaml), checked on the
95% bootstrap intervals of ``intervals.json`` (:mod:`lamer.ablation.intervals`): each is stated in
one line with its rule, its numbers and its verdict.

A verdict is ``yes`` when the interval lies on the expected side of the rule's bound, ``no`` when
it lies on the other side, and ``inconclusive`` when it holds the bound (the data cannot tell);
a rule over several intervals (``best``, ``near_best``: one per other candidate) holds when all
of them do and fails when one fails. ``best`` and ``near_best`` compare the protocol's candidates
only (``Ablation.candidates``: never the joint upper bound, nor a system that is
``reference_only`` under the protocol). A check whose numbers are missing says so instead of
guessing.
"""
from __future__ import annotations

from lamer.ablation.intervals import pair_key
from lamer.ablation.spec import Ablation, Expectation
from lamer.eval.bootstrap import format_interval, side

_VERDICT = {True: "yes", False: "no", None: "inconclusive"}
_METRIC = {"all": "avg_final", "new": "new_final", "old": "old_final"}


def pairs_of(ablation: Ablation) -> list[tuple[str, str]]:
    """The pairs of systems the expectations compare besides each system with the reference:
    ``(a, b)`` for the paired interval of ``a - b`` (and BWT(a) / BWT(b))."""
    pairs = []
    for e in ablation.expectations:
        a, b = {"bwt_share": (ablation.reference, e.params.get("of")),
                "drifts_like": (e.params.get("system"), e.params.get("like")),
                "lower": (e.params.get("system"), e.params.get("than"))}.get(e.check, (None, None))
        if a is not None and b is not None:
            pairs.append((a, b))
    return pairs


_NOTHING_VARIED = "; nothing varied: one seed without per-utterance edits"


def _holds(entry: dict, found: dict, bound: float = 0.0, expected: str = "below") -> bool | None:
    """True when the interval ``found`` of ``entry`` (a system's or a pair's intervals) lies on the
    ``expected`` side of ``bound``, False when on the other, None when it holds the bound or when
    nothing varied (a point is no evidence either way)."""
    where = side(found, bound)
    return None if not entry.get("varied") or where == "spans" else where == expected


def _all(verdicts: list[bool | None]) -> bool | None:
    """A rule over several intervals: fails when one fails, holds when all hold."""
    return False if False in verdicts else True if all(verdicts) else None


def _note(entry: dict) -> str:
    return "" if entry.get("varied") else _NOTHING_VARIED


def _negated(found: dict | None) -> dict | None:
    """The interval of ``-x`` from that of ``x``."""
    return None if found is None else {"mean": -found["mean"], "low": -found["high"], "high": -found["low"]}


def _label(rate: str) -> str:
    return rate.upper()


def _pair(data: dict, a: str | None, b: str | None) -> dict | None:
    return data.get("pairs", {}).get(pair_key(a, b)) if a and b else None


def _against_the_others(ablation: Ablation, expectation: Expectation, data: dict, protocol: str, summary: dict) -> str:
    ref, rate = ablation.reference, expectation.params["rate"]
    systems = data.get("systems", {})
    # ref - other, for every other candidate: the pair (other, ref), negated
    pairs = {name: pair for name in ablation.candidates(protocol)
             if name != ref and (pair := _pair(data, name, ref)) and pair["avg_final"] is not None}
    gaps = {name: _negated(pair["avg_final"]) for name, pair in pairs.items()}
    what = f"final average {_label(rate)}"
    if ref not in systems or not gaps:
        return (f"{ref} against the other candidate systems ({what}): not checked, "
                f"no results for {ref if ref not in systems else 'any other candidate system'}")
    closest = max(gaps, key=lambda name: gaps[name]["mean"])  # the other candidate with the lowest mean
    bound = 0.0 if expectation.check == "best" else expectation.params["within"]
    verdicts = {name: _holds(pairs[name], gap, bound) for name, gap in gaps.items()}
    holds = _all(list(verdicts.values()))
    undecided = [name for name, verdict in verdicts.items() if verdict is None]
    numbers = (f"({ref} {systems[ref]['avg_final']['mean']:.2f}; closest {closest}, {ref} - {closest} = "
               f"{format_interval(gaps[closest])}{_note(pairs[closest])}"
               + (f"; undecided against {', '.join(undecided)}" if holds is None else "") + ")")
    if expectation.check == "best":
        return (f"{ref} has the lowest {what} among the candidate systems (rule: {ref} minus each other "
                f"candidate below 0): {_VERDICT[holds]} {numbers}")
    return (f"{ref} is within {bound:g} {_label(rate)} point{'' if bound == 1 else 's'} of every other candidate "
            f"system (rule: {ref} minus each other candidate below {bound:g}): {_VERDICT[holds]} {numbers}")


def _bwt_share(ablation: Ablation, expectation: Expectation, data: dict, protocol: str, summary: dict) -> str:
    ref, of, divisor = ablation.reference, expectation.params["of"], expectation.params["divisor"]
    rule = f"|BWT({ref})| <= |BWT({of})| / {divisor:g}"
    found = _pair(data, ref, of)
    ratio = found and found["abs_bwt_ratio"]
    if ratio is None:
        return (f"{rule}: not checked, " + (f"BWT missing for {ref} or {of}" if found is None or
                                            found["bwt_final"] is None else f"BWT({of}) is 0 in some resample"))
    holds = _holds(found, ratio, 1 / divisor) if divisor else False
    return (f"{rule} (rule: |BWT({ref})| / |BWT({of})| below 1/{divisor:g}): {_VERDICT[holds]} "
            f"(ratio {format_interval(ratio)}{_note(found)})")


def _forgets(ablation: Ablation, expectation: Expectation, data: dict, protocol: str, summary: dict) -> str:
    name, stds = expectation.params["system"], expectation.params.get("stds")
    entry = data.get("systems", {}).get(name, {}) if name else {}
    stat = entry.get("bwt_final")
    if stat is None:
        return f"{name} forgets: not checked, no BWT for {name}"
    spread = summary.get(name, {}).get("bwt_final") if expectation.params["rate"] == "cer" else None
    return (f"{name} forgets (rule: its final BWT below 0): {_VERDICT[_holds(entry, stat)]} (BWT "
            f"{format_interval(stat)}{_note(entry)}"
            + (f"; the seeds' mean + {stds:g} std: {spread['mean']:.2f} + {stds:g} × {spread['std']:.2f} = "
               f"{spread['mean'] + stds * spread['std']:.2f}" if stds is not None and spread else "") + ")")


def _drifts_like(ablation: Ablation, expectation: Expectation, data: dict, protocol: str, summary: dict) -> str:
    name, like = expectation.params["system"], expectation.params["like"]
    low, high = expectation.params["ratio"]
    label = f"the control {name}" if ablation.control and name == ablation.control.name else name
    found = _pair(data, name, like)
    if found is None or found["bwt_ratio"] is None:
        why = (f"BWT missing for {name or 'the control (no system has control: true)'} or {like}"
               if found is None or found["bwt_final"] is None else f"BWT({like}) is 0 in some resample")
        return f"{'the control' if label != name or name is None else name} drifts like {like}: not checked, {why}"
    ratio = found["bwt_ratio"]
    holds = _all([_holds(found, ratio, low, "above"), _holds(found, ratio, high, "below")])
    return (f"{label} drifts comparably to {like} (rule: ratio of final BWTs within [{low:g}, {high:g}]): "
            f"{_VERDICT[holds]} (ratio {format_interval(ratio)}{_note(found)})")


def _lower(ablation: Ablation, expectation: Expectation, data: dict, protocol: str, summary: dict) -> str:
    name, than, by = expectation.params["system"], expectation.params["than"], expectation.params["by"]
    languages, rate = expectation.params["languages"], expectation.params["rate"]
    over = {"all": "every language", "new": "the new languages", "old": "the base languages"}[languages]
    rule = (f"{name} has a lower final {_label(rate)} than {than} on {over}"
            + (f" by more than {by:g} point{'' if by == 1 else 's'}" if by else ""))
    pair = _pair(data, name, than)
    found = pair and pair[_METRIC[languages]]
    if found is None:
        return f"{rule}: not checked, no {_label(rate)} results shared by {name} and {than}"
    return (f"{rule} (rule: {name} - {than} below {-by:g}): {_VERDICT[_holds(pair, found, -by)]} "
            f"({format_interval(found)}{_note(pair)})")


_CHECKS = {"near_best": _against_the_others, "best": _against_the_others, "bwt_share": _bwt_share,
           "forgets": _forgets, "drifts_like": _drifts_like, "lower": _lower}


def check_expectations(ablation: Ablation, protocol: str, intervals: dict, systems: dict) -> list[str]:
    """One line per expectation of ``ablation`` that applies under ``protocol``, in config order;
    ``intervals`` is the content of ``intervals.json``, ``systems`` ``summary[protocol]["systems"]``
    (for ``forgets``' ``stds`` figure)."""
    by_rate = intervals.get(protocol, {})
    return [_CHECKS[e.check](ablation, e, by_rate.get(e.params["rate"], {}), protocol, systems)
            for e in ablation.expectations if protocol in e.protocols]
