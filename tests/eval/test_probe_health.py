"""Probe training read from ESPnet logs: the validation CER curve, the epoch a probe left CTC's
blank plateau, and the table of the ablation summary."""
import json

import pytest

from lamer.eval import EvalInputError
from lamer.eval.probe_health import (
    collect,
    curve_entry,
    escape_epoch,
    render_table,
    valid_cer_curve,
)


def epoch_line(epoch: int, cer: str) -> str:
    """One line as ESPnet's trainer logs it (trimmed of fields the reader does not use)."""
    return (f"[vm] 2026-11-26 00:52:20,000 (trainer:394) INFO: {epoch}epoch results: [train] loss_ctc=150.1, "
            f"cer_ctc=0.5, time=12.3 seconds, total_count={52 * epoch}, [valid] loss_ctc=148.2, cer_ctc={cer}, "
            f"loss_att=nan, cer=nan, loss=148.2, time=0.9 seconds, total_count={6 * epoch}\n")


def write_log(path, cers: list[str], noise: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# python -m lamer.bin.asr_train ...\n" + noise
                    + "".join(epoch_line(k + 1, cer) for k, cer in enumerate(cers)))


def test_the_curve_is_the_valid_cer_per_epoch(tmp_path):
    log = tmp_path / "probe_s1.log"
    write_log(log, ["1.000", "0.917", "0.883", "0.717", "0.626"],
              noise="[vm] ... 1epoch:train:1-10batch: cer_ctc=0.99\n")
    assert valid_cer_curve(log) == [1.0, 0.917, 0.883, 0.717, 0.626]
    assert escape_epoch(valid_cer_curve(log)) == 4


def test_a_resumed_run_keeps_the_last_value_and_nan_is_none(tmp_path):
    log = tmp_path / "probe_s1.log"
    log.write_text(epoch_line(1, "1.000") + epoch_line(2, "0.95") + epoch_line(2, "0.90") + epoch_line(3, "nan"))
    assert valid_cer_curve(log) == [1.0, 0.90, None]
    assert curve_entry(valid_cer_curve(log)) == {"final": None, "best": 0.90, "escape_epoch": None, "epochs": 3}


def test_a_log_without_epoch_results_is_refused_by_name(tmp_path):
    log = tmp_path / "probe_s2.log"
    log.write_text("Traceback (most recent call last):\n")
    with pytest.raises(EvalInputError, match="probe_s2.log"):
        valid_cer_curve(log)


def test_collect_reads_the_base_probe_from_the_frozen_run():
    curves = {"frozen": {0: {"base": [1.0, 0.91, 0.80], "s1": [1.0, 0.5]}}, "ft": {0: {"s1": [1.0, 0.92, 0.91]}}}
    health = collect(curves, "frozen", {"frozen": ["s1"], "ft": ["s1", "s2"]})
    assert health["base probe"][0]["base"]["escape_epoch"] == 3
    assert health["ft"][0]["s1"] == {"final": 0.91, "best": 0.91, "escape_epoch": None, "epochs": 3}
    assert health["ft"][0]["s2"] is None  # no log
    assert curve_entry(None) is None
    assert render_table(health, [0, 1]) == [["base probe", "base 0.80 (e3)", "–"],
                                            ["ft", "s1 0.91 (never), s2 –", "–"]]


def test_the_summary_writes_probe_health_and_its_table(mini_ablation, export_and_summarise):
    tmp_path = mini_ablation("  frozen: {train_on: none}\n  ft: {method: conf/m.yaml}\n", [0], ["frozen", "ft"])
    exp = tmp_path / "exp"
    write_log(exp / "seed0" / "frozen" / "logs" / "probe_base.log", ["1.0", "0.70"])
    write_log(exp / "seed0" / "ft" / "logs" / "probe_s1.log", ["1.0", "0.95"])
    export_and_summarise(tmp_path, exp, tmp_path / "out", tmp_path / "RESULTS.md")
    health = json.loads((tmp_path / "out" / "probe_health.json").read_text())
    assert health["ft"]["0"]["s1"]["final"] == 0.95
    text = (tmp_path / "RESULTS.md").read_text()
    assert "### Probe training" in text
    assert "| base probe | base 0.70 (e2) |" in text
    assert "| ft | s1 0.95 (never) |" in text
