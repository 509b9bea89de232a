"""The expectations of an ablation config checked on intervals, not means: yes when the interval lies
on the expected side of the bound, no when on the other, inconclusive when it holds the bound or
when nothing varied."""
import pytest

from lamer.ablation.expectations import check_expectations, pairs_of
from lamer.ablation.spec import load_ablation
from tests.eval.synthetic_runs import CONFIG


def ablation_with(tmp_path, *expectations: str):
    (tmp_path / "conf").mkdir(exist_ok=True)
    (tmp_path / "conf" / "plan.yaml").write_text("{}\n")
    (tmp_path / "conf" / "m.yaml").write_text("{}\n")
    path = tmp_path / "conf" / "ablation.yaml"
    path.write_text(CONFIG.format(seeds=[0, 1, 2], probe_seeds="",
                                 expectations="\n".join(f"  - {e}" for e in expectations)))
    return load_ablation(path)


def span(mean: float, low: float, high: float) -> dict:
    return {"mean": mean, "low": low, "high": high}


def pair(varied: bool = True, **metrics) -> dict:
    """A pair's intervals: the given ones, every other metric undefined."""
    return {"units": [0, 1, 2], "resampled": "training seeds", "varied": varied,
            **{key: metrics.get(key) for key in ("avg_final", "new_final", "old_final", "bwt_final", "bwt_ratio",
                                                 "abs_bwt_ratio")}}


def intervals(pairs: dict, systems: dict | None = None, rate: str = "cer") -> dict:
    return {"bootstrap": {"resamples": 2000, "seed": 0, "level": 0.95},
            "retrained": {rate: {"systems": systems or {"lamer_replay": pair(avg_final=span(25.0, 24.0, 26.0))},
                                 "pairs": pairs}}}


@pytest.mark.parametrize("found, varied, verdict", [
    (span(-4.0, -6.0, -2.5), True, "yes"),         # below -2: lower by more than 2 points
    (span(-3.0, -5.0, -1.0), True, "inconclusive"),  # holds -2
    (span(1.0, 0.5, 1.5), True, "no"),              # above -2
    (span(-4.0, -4.0, -4.0), False, "inconclusive"),  # a point from one seed: no evidence
])
def test_lower_is_decided_on_the_paired_interval(tmp_path, found, varied, verdict):
    ablation = ablation_with(tmp_path, "{check: lower, than: frozen, languages: new, by: 2, protocols: [retrained]}")
    assert pairs_of(ablation) == [("lamer_replay", "frozen")]
    [line] = check_expectations(ablation, "retrained", intervals({"lamer_replay-frozen": pair(varied,
                                                                                              new_final=found)}), {})
    assert line.startswith("lamer_replay has a lower final CER than frozen on the new languages by more than 2 points "
                           f"(rule: lamer_replay - frozen below -2): {verdict} (")
    assert ("nothing varied" in line) == (not varied)


def test_lower_reads_the_rate_it_names(tmp_path):
    ablation = ablation_with(tmp_path, "{check: lower, than: frozen, rate: per}")
    per = intervals({"lamer_replay-frozen": pair(avg_final=span(-3.0, -4.0, -2.0))}, rate="per")
    assert check_expectations(ablation, "retrained", per, {}) == [
        "lamer_replay has a lower final PER than frozen on every language (rule: lamer_replay - frozen below 0): yes "
        "(-3.00 [-4.00, -2.00])"]
    assert check_expectations(ablation, "retrained", intervals({}), {}) == [
        "lamer_replay has a lower final PER than frozen on every language: not checked, no PER results shared by "
        "lamer_replay and frozen"]


@pytest.mark.parametrize("ft, control, verdict", [
    (span(3.0, 1.0, 5.0), span(2.0, 0.5, 3.5), "yes"),          # every other candidate surely higher
    (span(3.0, 1.0, 5.0), span(0.5, -1.0, 2.0), "inconclusive"),  # the control may be lower
    (span(3.0, 1.0, 5.0), span(-2.0, -3.0, -1.0), "no"),        # the control surely lower
])
def test_best_needs_every_other_candidate_surely_higher(tmp_path, ft, control, verdict):
    ablation = ablation_with(tmp_path, "{check: best}")
    pairs = {"ft-lamer_replay": pair(avg_final=ft), "continue_old-lamer_replay": pair(avg_final=control),
             "frozen-lamer_replay": pair(avg_final=span(9.0, 8.0, 10.0))}
    [line] = check_expectations(ablation, "retrained", intervals(pairs), {})
    assert line.startswith("lamer_replay has the lowest final average CER among the candidate systems (rule: "
                           f"lamer_replay minus each other candidate below 0): {verdict} (lamer_replay 25.00; closest ")
    assert ("undecided against continue_old" in line) == (verdict == "inconclusive")


def test_near_best_allows_its_margin(tmp_path):
    ablation = ablation_with(tmp_path, "{check: near_best, within: 1.0}")
    pairs = {"ft-lamer_replay": pair(avg_final=span(-0.5, -0.8, -0.2)),  # ref - ft in [0.2, 0.8]: below 1
             "continue_old-lamer_replay": pair(avg_final=span(2.0, 1.0, 3.0))}
    [line] = check_expectations(ablation, "retrained", intervals(pairs), {})
    assert "within 1 CER point of every other candidate system (rule: lamer_replay minus each other candidate " \
           "below 1): yes (lamer_replay 25.00; closest ft, lamer_replay - ft = 0.50 [0.20, 0.80])" in line
    pairs["ft-lamer_replay"] = pair(avg_final=span(-1.5, -2.5, -0.5))  # ref - ft in [0.5, 2.5]: holds 1
    assert ": inconclusive (" in check_expectations(ablation, "retrained", intervals(pairs), {})[0]


def test_forgets_bwt_share_and_drifts_like_on_intervals(tmp_path):
    ablation = ablation_with(tmp_path, "{check: forgets, stds: 2}", "{check: bwt_share, divisor: 5}",
                             "{check: drifts_like, ratio: [0.5, 2.0]}")
    assert pairs_of(ablation) == [("lamer_replay", "ft"), ("continue_old", "ft")]
    systems = {"lamer_replay": pair(avg_final=span(25.0, 24.0, 26.0)),
               "ft": pair(bwt_final=span(-7.0, -9.0, -5.0))}
    pairs = {"lamer_replay-ft": pair(bwt_final=span(6.0, 4.0, 8.0), abs_bwt_ratio=span(0.1, 0.05, 0.18)),
             "continue_old-ft": pair(bwt_final=span(1.0, 0.0, 2.0), bwt_ratio=span(0.8, 0.4, 1.2))}
    summary = {"ft": {"bwt_final": {"mean": -7.0, "std": 1.0}}}
    assert check_expectations(ablation, "retrained", intervals(pairs, systems), summary) == [
        "ft forgets (rule: its final BWT below 0): yes (BWT -7.00 [-9.00, -5.00]; the seeds' mean + 2 std: "
        "-7.00 + 2 × 1.00 = -5.00)",
        "|BWT(lamer_replay)| <= |BWT(ft)| / 5 (rule: |BWT(lamer_replay)| / |BWT(ft)| below 1/5): yes "
        "(ratio 0.10 [0.05, 0.18])",
        "the control continue_old drifts comparably to ft (rule: ratio of final BWTs within [0.5, 2]): inconclusive "
        "(ratio 0.80 [0.40, 1.20])"]
    systems["ft"] = pair(bwt_final=span(-1.0, -3.0, 1.0))
    pairs["lamer_replay-ft"]["abs_bwt_ratio"] = span(0.9, 0.3, 2.0)
    pairs["continue_old-ft"]["bwt_ratio"] = span(3.0, 2.5, 3.5)
    forgets, share, drifts = check_expectations(ablation, "retrained", intervals(pairs, systems), {})
    assert ": inconclusive (BWT -1.00 [-3.00, 1.00])" in forgets
    assert ": no (ratio 0.90 [0.30, 2.00])" in share
    assert ": no (ratio 3.00 [2.50, 3.50])" in drifts
    pairs["lamer_replay-ft"]["abs_bwt_ratio"] = None  # BWT(ft) 0 in some resample
    assert "not checked, BWT(ft) is 0 in some resample" in check_expectations(
        ablation, "retrained", intervals(pairs, systems), {})[1]
