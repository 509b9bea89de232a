"""The ablation's go/no-go checks: whether its testbed can show continual learning at all, decided
on 95% intervals (:mod:`lamer.ablation.intervals`) under ``retrained``, before any ranking is read.

(a) **The frozen base is worse on the new languages than on the old ones**: the frozen system's
    (``train_on: none``) mean error over the languages introduced after the base minus its mean
    over the base languages, after the last stage, lies above 0. Otherwise a system's low error
    on the new languages may be their being easy, not their being learned.
(b) **The control does not close that gap**: the reference system's gain over frozen on the new
    languages (frozen's mean error there minus the reference's) exceeds the control's (the system
    with ``control: true``: as many steps, on the old languages only); the interval of the
    difference of the two gains, which is the control's error minus the reference's on the new
    languages, lies above 0. Otherwise what continual training gains there comes from training as
    such, not from the new languages' data.

(c) **Pre-training gives the probe something** (where the ablation has the random-init reference,
    a system with ``base_init: random`` and ``train_on: none``): that system's mean error over
    every language minus the frozen system's lies above 0. Otherwise the probe reads the
    architecture's random features as well as the pre-trained ones, and continual *pre-training*
    has nothing it could be seen to change.

Per rate: CER, and PER where the runs scored it. A check *passes* when its interval lies above 0,
*fails* when it lies below, is *within noise* when it holds 0, and has *no noise estimate* when
nothing varied (one unit and no per-utterance edits: a point, no evidence). The ablation is a *go*
for a rate when (a) and (b) pass, and (c) too where it is checked, and *inconclusive* otherwise,
saying why; a ranking of systems is then not meaningful.
"""
from __future__ import annotations

from lamer.ablation.intervals import Pool
from lamer.ablation.spec import Ablation
from lamer.eval.bootstrap import format_interval, has_spread, interval, resampled, side

PROTOCOL = "retrained"
PASS, FAIL, NOISE, UNCHECKED = "pass", "fail", "within noise", "not checked"
UNMEASURED = "no noise estimate"  # one unit without per-utterance edits: nothing varied
GO, INCONCLUSIVE = "go", "inconclusive"
_OUTCOME = {"above": PASS, "below": FAIL, "spans": NOISE}


def frozen_system(ablation: Ablation) -> str | None:
    """The pre-trained base without continual training (``train_on: none``), None without one."""
    return next((s.name for s in ablation.systems if s.train_on == "none" and not s.random_reference), None)


def random_system(ablation: Ablation) -> str | None:
    """The random-init reference (``base_init: random``, ``train_on: none``), None without one."""
    return next((s.name for s in ablation.systems if s.random_reference), None)


def _outcome(found: dict | None, spread: bool) -> str:
    if found is None:
        return UNCHECKED
    return _OUTCOME[side(found)] if spread else UNMEASURED


def _gap(pool: Pool, frozen: str | None) -> dict:
    replicates = pool.replicates([frozen]) if frozen else None
    if replicates is None or replicates.estimates[frozen]["new_final"] is None:
        why = ("no system has train_on: none" if frozen is None else
               f"no runs of {frozen}" if replicates is None else f"{frozen} has no language after the base")
        return {"outcome": UNCHECKED, "why": why}
    est, rep = replicates.estimates[frozen], replicates.replicates[frozen]
    found = interval(est["new_final"] - est["old_final"], rep["new_final"] - rep["old_final"])
    varied = has_spread(replicates)
    return {"units": [unit.key for unit in pool.units([frozen])], "resampled": resampled(replicates),
            "varied": varied, "new_minus_old": found, "outcome": _outcome(found, varied)}


def _gains(pool: Pool, frozen: str | None, reference: str | None, control: str | None) -> dict:
    missing = [role for role, name in (("frozen system (train_on: none)", frozen), ("reference", reference),
                                       ("control (control: true)", control)) if name is None]
    if missing:
        return {"outcome": UNCHECKED, "why": f"the ablation has no {' and no '.join(missing)}"}
    replicates = pool.replicates([frozen, reference, control])
    if replicates is None or replicates.estimates[frozen]["new_final"] is None:
        return {"outcome": UNCHECKED, "why": f"{frozen}, {reference} and {control} share no seed with results"}
    est, rep = replicates.estimates, replicates.replicates
    gains = {name: interval(est[frozen]["new_final"] - est[name]["new_final"],
                            rep[frozen]["new_final"] - rep[name]["new_final"]) for name in (reference, control)}
    difference = interval(est[control]["new_final"] - est[reference]["new_final"],
                          rep[control]["new_final"] - rep[reference]["new_final"])
    varied = has_spread(replicates)
    return {"units": [unit.key for unit in pool.units([frozen, reference, control])],
            "resampled": resampled(replicates), "varied": varied, "reference_gain": gains[reference],
            "control_gain": gains[control], "difference": difference, "outcome": _outcome(difference, varied)}


def _pretraining(pool: Pool, frozen: str | None, random: str | None) -> dict:
    if random is None:
        return {"outcome": UNCHECKED, "why": "the ablation has no random-init reference (base_init: random)"}
    if frozen is None:
        return {"outcome": UNCHECKED, "why": "no system has train_on: none with the pre-trained base"}
    replicates = pool.replicates([frozen, random])
    if replicates is None:
        return {"outcome": UNCHECKED, "why": f"{frozen} and {random} share no seed with results"}
    est, rep = replicates.estimates, replicates.replicates
    found = interval(est[random]["avg_final"] - est[frozen]["avg_final"],
                     rep[random]["avg_final"] - rep[frozen]["avg_final"])
    varied = has_spread(replicates)
    return {"units": [unit.key for unit in pool.units([frozen, random])], "resampled": resampled(replicates),
            "varied": varied, "random_minus_frozen": found, "outcome": _outcome(found, varied)}


_NOTHING_VARIED = " (nothing varied: one seed and no per-utterance edits)"


def _why_pretraining(label: str, names: dict, pretraining: dict) -> list[str]:
    """(c)'s sentence where it was checked and did not pass."""
    outcome, frozen, random = pretraining["outcome"], names["frozen"], names["random"]
    if outcome in (PASS, UNCHECKED):
        return []
    if outcome == UNMEASURED:
        return [f"(c) has {UNMEASURED}{_NOTHING_VARIED}: {random} - {frozen} is "
                f"{pretraining['random_minus_frozen']['mean']:.2f} {label} points"]
    verb = "fails" if outcome == FAIL else "is within noise"
    return [f"(c) {verb}: the random-init {random} reads the languages {label} "
            f"{format_interval(pretraining['random_minus_frozen'])} points worse than the pre-trained {frozen}"
            + (" (it reads them better)" if outcome == FAIL else "")
            + ", so the probe does not read what pre-training put into the features, and continual pre-training "
            "cannot be seen through it"]


def _why(rate: str, names: dict, gap: dict, gains: dict) -> list[str]:
    """One sentence per check that did not pass."""
    label, frozen, reference, control = rate.upper(), names["frozen"], names["reference"], names["control"]
    out = []
    if gap["outcome"] == UNCHECKED:
        out.append(f"(a) not checked: {gap['why']}")
    elif gap["outcome"] == FAIL:
        out.append(f"(a) fails: {frozen} reads the new languages better than the old ones (new - old "
                   f"{format_interval(gap['new_minus_old'])} {label} points); they are easier for the base model, so a "
                   "low error there need not mean they were learned")
    elif gap["outcome"] == NOISE:
        out.append(f"(a) is within noise: {frozen}'s new - old {format_interval(gap['new_minus_old'])} {label} points "
                   "holds 0")
    elif gap["outcome"] == UNMEASURED:
        out.append(f"(a) has {UNMEASURED}{_NOTHING_VARIED}: {frozen}'s new - old is "
                   f"{gap['new_minus_old']['mean']:.2f} {label} points")
    if gains["outcome"] == UNCHECKED:
        out.append(f"(b) not checked: {gains['why']}")
    elif gains["outcome"] in (FAIL, NOISE, UNMEASURED):
        verb = {FAIL: "fails", NOISE: "is within noise", UNMEASURED: f"has {UNMEASURED}{_NOTHING_VARIED}"}
        out.append(f"(b) {verb[gains['outcome']]}: on the new languages {reference} gains "
                   f"{format_interval(gains['reference_gain'])} {label} points over {frozen}, the control {control} "
                   f"{format_interval(gains['control_gain'])}; the difference {format_interval(gains['difference'])}"
                   + {FAIL: " is below 0: the control gains more", NOISE: " holds 0", UNMEASURED: ""}[gains["outcome"]]
                   + ", so the gain is not shown to come from the new languages' data")
    return out


def go_no_go(ablation: Ablation, pools: dict[str, dict[str, Pool]]) -> dict:
    """``{rate: {"frozen", "reference", "control", "gap", "gains", "verdict", "why"}}`` under
    ``retrained``, for every rate its runs scored (module docstring); ``pools`` as from
    :func:`lamer.ablation.intervals.pools`."""
    names = {"frozen": frozen_system(ablation), "reference": ablation.reference,
             "control": ablation.control.name if ablation.control else None}
    random = random_system(ablation)
    out = {}
    for rate, pool in pools.get(PROTOCOL, {}).items():
        gap = _gap(pool, names["frozen"])
        gains = _gains(pool, names["frozen"], names["reference"], names["control"])
        why = _why(rate, names, gap, gains)
        found = {**names, "gap": gap, "gains": gains}
        go = gap["outcome"] == PASS and gains["outcome"] == PASS
        if random is not None:  # (c) only where the ablation runs the reference: older ablations are unchanged
            pretraining = _pretraining(pool, names["frozen"], random)
            found |= {"random": random, "pretraining": pretraining}
            why += _why_pretraining(rate.upper(), found, pretraining)
            go = go and pretraining["outcome"] == PASS
        out[rate] = {**found, "verdict": GO if go else INCONCLUSIVE, "why": why}
    return out


def render_lines(checks: dict) -> list[str]:
    """The checks in words, one line per rate and check (Markdown list items, also printed by
    the summary command)."""
    lines = []
    for rate, found in checks.items():
        label, gap, gains = rate.upper(), found["gap"], found["gains"]
        lines.append(f"- **{label}: {found['verdict']}**"
                     + (f" ({gap.get('resampled') or gains.get('resampled')} resampled)"
                        if gap.get("resampled") or gains.get("resampled") else ""))
        lines.append(f"  - (a) {found['frozen']} is worse on the new languages than on the old ones: {gap['outcome']}"
                     + (f" (new - old {format_interval(gap['new_minus_old'])})" if "new_minus_old" in gap else ""))
        lines.append(f"  - (b) the control does not close that gap: {gains['outcome']}"
                     + (f" (gain over {found['frozen']} on the new languages: {found['reference']} "
                        f"{format_interval(gains['reference_gain'])}, {found['control']} "
                        f"{format_interval(gains['control_gain'])}; difference "
                        f"{format_interval(gains['difference'])})" if "difference" in gains else ""))
        if "pretraining" in found:
            pretraining = found["pretraining"]
            lines.append(f"  - (c) pre-training gives the probe something ({found['frozen']} beats the random-init "
                         f"{found['random']}): {pretraining['outcome']}"
                         + (f" ({found['random']} - {found['frozen']} "
                            f"{format_interval(pretraining['random_minus_frozen'])})"
                            if "random_minus_frozen" in pretraining else ""))
        lines += [f"  - why inconclusive: {why}" for why in found["why"]]
    return lines


def render_section(checks: dict, note: str | None = None) -> str:
    """The summary's go/no-go subsection (Markdown, with its heading): what the checks ask, ``note``
    (what the intervals resampled, where it needs saying) and :func:`render_lines`."""
    return (f"### Go/no-go, under `{PROTOCOL}`, before any ranking\n\nWhether this testbed can show continual "
            "learning at all (lamer.ablation.go_no_go), on 95% bootstrap intervals: (a) the frozen base is worse "
            "on the new languages than on the old ones; (b) the control, trained as long on the old languages "
            "only, does not close that gap: the reference's gain over frozen on the new languages exceeds the "
            "control's"
            + ("; (c) the pre-trained base reads the languages better than its architecture with random weights "
               "(the random-init reference)" if any("pretraining" in found for found in checks.values()) else "")
            + ". A check passes when its interval lies above 0; one below 0 fails, one holding 0 is within noise."
            + (f" {note}" if note else "") + "\n\n"
            + ("\n".join(render_lines(checks)) if checks else f"- not checked: no `{PROTOCOL}` results"))


def ranking_note(checks: dict) -> str | None:
    """The warning that heads every ranking while a rate's go/no-go is not a go; None when all are."""
    failed = [rate.upper() for rate, found in checks.items() if found["verdict"] != GO]
    if not checks:
        return ("**Ranking not meaningful**: the go/no-go checks could not run (no `retrained` results); "
                "the bold marks the lowest mean only.")
    if not failed:
        return None
    return (f"**Ranking not meaningful**: the go/no-go checks are inconclusive ({', '.join(failed)}; see above), "
            "so the testbed does not show that continual training learns the new languages; the bold marks the "
            "lowest mean only.")
