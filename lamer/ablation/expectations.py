"""The expectations of an ablation config (``expectations:`` in conf/ablation.yaml), checked on a
summary: each is stated in one line with its rule, its numbers and whether it holds.

Every check reads the mean over seeds (and, for ``forgets``, the sample std) of a system's final
average CER or final BWT under one protocol (``summary[protocol]["systems"]``); ``best`` and
``near_best`` compare the protocol's candidates only (``Ablation.candidates``: never the joint
upper bound, nor a system that is ``reference_only`` under the protocol). A check whose numbers
are missing says so instead of guessing.
"""
from __future__ import annotations

from lamer.ablation.spec import Ablation, Expectation


def _mean(systems: dict, name: str | None, metric: str) -> float | None:
    stat = systems.get(name, {}).get(metric) if name else None
    return None if stat is None else stat["mean"]


def _cers(ablation: Ablation, systems: dict, protocol: str) -> dict[str, float]:
    """Mean final average CER of every candidate system of ``protocol`` with results."""
    cer = {name: _mean(systems, name, "avg_cer_final") for name in ablation.candidates(protocol) if name in systems}
    return {name: value for name, value in cer.items() if value is not None}


def _yes(holds: bool) -> str:
    return "yes" if holds else "no"


def _against_the_others(ablation: Ablation, expectation: Expectation, systems: dict, protocol: str) -> str:
    ref = ablation.reference
    cer = _cers(ablation, systems, protocol)
    others = {name: value for name, value in cer.items() if name != ref}
    if ref not in cer or not others:
        return (f"{ref} against the other candidate systems (final average CER): not checked, "
                f"no results for {ref if ref not in cer else 'any other candidate system'}")
    if expectation.check == "best":
        rival = min(others, key=others.get)
        return (f"{ref} has the best mean final average CER among the candidate systems: "
                f"{_yes(cer[ref] <= others[rival])} ({ref} {cer[ref]:.2f}, best other {rival} {others[rival]:.2f})")
    within = expectation.params["within"]
    best = min(cer, key=cer.get)
    gap = cer[ref] - cer[best]
    return (f"{ref} is within {within:g} CER point{'' if within == 1 else 's'} of the best candidate system: "
            f"{_yes(gap <= within)} ({ref} {cer[ref]:.2f}, best {best} {cer[best]:.2f}, gap {gap:.2f})")


def _bwt_share(ablation: Ablation, expectation: Expectation, systems: dict, protocol: str) -> str:
    ref, of, divisor = ablation.reference, expectation.params["of"], expectation.params["divisor"]
    rule = f"|BWT({ref})| <= |BWT({of})| / {divisor:g}"
    ref_bwt, of_bwt = _mean(systems, ref, "bwt_final"), _mean(systems, of, "bwt_final")
    if ref_bwt is None or of_bwt is None:
        return f"{rule}: not checked, BWT missing for {ref} or {of}"
    bound = abs(of_bwt) / divisor
    return f"{rule}: {_yes(abs(ref_bwt) <= bound)} (|{ref_bwt:.2f}| vs |{of_bwt:.2f}| / {divisor:g} = {bound:.2f})"


def _forgets(ablation: Ablation, expectation: Expectation, systems: dict, protocol: str) -> str:
    name, stds = expectation.params["system"], expectation.params["stds"]
    stat = systems.get(name, {}).get("bwt_final") if name else None
    if stat is None:
        return f"{name} forgets beyond seed noise: not checked, no BWT for {name}"
    bound = stat["mean"] + stds * stat["std"]
    return (f"{name} forgets beyond seed noise (rule: mean + {stds:g} std of its final BWT < 0): "
            f"{_yes(bound < 0)} ({stat['mean']:.2f} + {stds:g} × {stat['std']:.2f} = {bound:.2f})")


def _drifts_like(ablation: Ablation, expectation: Expectation, systems: dict, protocol: str) -> str:
    name, like = expectation.params["system"], expectation.params["like"]
    low, high = expectation.params["ratio"]
    bwt, like_bwt = _mean(systems, name, "bwt_final"), _mean(systems, like, "bwt_final")
    label = f"the control {name}" if ablation.control and name == ablation.control.name else name
    if bwt is None or like_bwt is None:
        return (f"{'the control' if label != name or name is None else name} drifts like {like}: not checked, "
                f"BWT missing for {name or 'the control (no system has control: true)'} or {like}")
    ratio = bwt / like_bwt if like_bwt else float("inf")
    return (f"{label} drifts comparably to {like} (rule: ratio of final BWTs in [{low:g}, {high:g}]): "
            f"{_yes(low <= ratio <= high)} (BWT {bwt:.2f} vs {like_bwt:.2f}, ratio {ratio:.2f})")


_CHECKS = {"near_best": _against_the_others, "best": _against_the_others, "bwt_share": _bwt_share,
           "forgets": _forgets, "drifts_like": _drifts_like}


def check_expectations(ablation: Ablation, protocol: str, systems: dict) -> list[str]:
    """One line per expectation of ``ablation`` that applies under ``protocol``, in config order
    (``systems`` is ``summary[protocol]["systems"]``)."""
    return [_CHECKS[e.check](ablation, e, systems, protocol) for e in ablation.expectations if protocol in e.protocols]
