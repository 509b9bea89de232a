"""The scoring and report CLIs end to end, as the recipe calls them (one python start each)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from lamer.bin import forgetting_report


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=120, env=env)


def test_score_cli(tmp_path):
    # eng: "ab cd" vs "ab d" (1 edit / 5), tag right; fra: "oui" exact, no tag. PER is on by
    # default: espeak-ng reads the letters, [æ b s iː d iː] vs [æ b d iː], 2 phone edits / 6.
    (tmp_path / "ref").write_text("e1 ab cd\nf1 oui\n")
    (tmp_path / "hyp").write_text("e1 [eng] ab d\nf1 oui\n")
    (tmp_path / "utt2lang").write_text("e1 eng\nf1 fra\n")
    done = run("lamer.bin.score", "--ref", str(tmp_path / "ref"), "--hyp", str(tmp_path / "hyp"),
               "--utt2lang", str(tmp_path / "utt2lang"), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out" / "score.json").read_text()) == {
        "eng": {"cer": 20.0, "per": pytest.approx(100 / 3), "lid_acc": 100.0, "n": 1},
        "fra": {"cer": 0.0, "per": 0.0, "lid_acc": 0.0, "n": 1},
    }
    assert "PER 33.33%" in done.stderr and "PER phones by espeak-ng" in done.stderr
    assert "voices eng=en-us fra=fr" in done.stderr
    for name in ("summary.json", "per_utt.tsv", "lid_confusion.json", "lid_confusion.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert "lid_acc_classifier" not in json.loads((tmp_path / "out" / "score.json").read_text())["eng"]
    (tmp_path / "lid").write_text("e1 [eng]\nf1 [fra]\n")
    done = run("lamer.bin.score", "--ref", str(tmp_path / "ref"), "--hyp", str(tmp_path / "hyp"),
               "--utt2lang", str(tmp_path / "utt2lang"), "--lid_if_present", str(tmp_path / "lid"),
               "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out" / "score.json").read_text())["fra"]["lid_acc_classifier"] == 100.0
    (tmp_path / "hyp").write_text("e1 [eng] ab d\n")
    failed = run("lamer.bin.score", "--ref", str(tmp_path / "ref"), "--hyp", str(tmp_path / "hyp"),
                 "--utt2lang", str(tmp_path / "utt2lang"), "--out", str(tmp_path / "out2"))
    assert failed.returncode == 1 and "lacks 1 utterance" in failed.stderr and "ref:2" in failed.stderr
    assert not (tmp_path / "out2").exists()


SCORE_INPUTS = {"ref": "e1 [eng] the cat sat\nf1 [fra] oui\n", "hyp": "e1 [eng] the cat sad\nf1 oui\n"}


def _score(tmp_path, *options: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    for name, text in SCORE_INPUTS.items():
        (tmp_path / name).write_text(text)
    return run("lamer.bin.score", "--ref", str(tmp_path / "ref"), "--hyp", str(tmp_path / "hyp"),
               "--out", str(tmp_path / "out"), *options, env=env)


def test_score_cli_per_false_writes_the_cer_only_outputs(tmp_path):
    done = _score(tmp_path, "--per", "false")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out" / "score.json").read_text()) == {
        "eng": {"cer": pytest.approx(100 / 11), "lid_acc": 100.0, "n": 1},
        "fra": {"cer": 0.0, "lid_acc": 0.0, "n": 1},
    }
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (summary["per"], summary["g2p"]) == (None, None) and "phone_edits" not in summary["per_language"]["eng"]
    assert (tmp_path / "out" / "per_utt.tsv").read_text().splitlines()[0] == "utt\tlang\thyp_lang\tedits\tref_len\tcer"
    assert "PER" not in done.stderr


def _without_espeak(tmp_path) -> dict[str, str]:
    """The environment of a Python that cannot import espeakng_loader, as where it is not installed."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['espeakng_loader'] = None\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), *filter(None, [os.environ.get("PYTHONPATH")])])}


def test_score_cli_without_espeak_says_how_to_install_it(tmp_path):
    env = _without_espeak(tmp_path)
    check = run("lamer.bin.score", "--help", env=env)  # the blocker is in force, lamer still imports
    assert check.returncode == 0 and subprocess.run(
        [sys.executable, "-c", "import espeakng_loader"], env=env, capture_output=True).returncode == 1
    failed = _score(tmp_path, env=env)
    assert failed.returncode == 1
    assert failed.stderr.splitlines() == [
        "score: error: the phone error rate (PER) needs espeak-ng from the optional espeakng-loader package "
        "(GPL-3.0): tools/venv/bin/pip install espeakng-loader (or pip install -e '.[demo]'); "
        "or score without it: --per false"]
    assert not (tmp_path / "out").exists()
    done = _score(tmp_path, "--per", "false", env=env)
    assert done.returncode == 0, done.stderr
    assert "per" not in json.loads((tmp_path / "out" / "score.json").read_text())["eng"]


def test_forgetting_report_cli(tmp_path):
    results = {
        "stages": ["base", "s1"], "introduced": {"eng": "base", "spa": "s1"},
        "cer": {"base": {"eng": 20.0, "spa": 60.0}, "s1": {"eng": 25.0, "spa": 30.0}},
        "lid_acc": {"base": {"eng": 90.0}, "s1": {"eng": 85.0, "spa": 80.0}},
    }
    (tmp_path / "results.json").write_text(json.dumps(results))
    (tmp_path / "joint.json").write_text(json.dumps({"eng": 18.0, "spa": 26.0}))
    usage = {"0": {"eng": [0.9, 0.1], "spa": [0.2, 0.8]},
             "1": {"eng": [0.7, 0.1, 0.1, 0.1], "spa": [0.1, 0.1, 0.1, 0.7]}}
    (tmp_path / "usage.json").write_text(json.dumps(usage))
    done = run("lamer.bin.forgetting_report", "--matrix", str(tmp_path / "results.json"),
               "--joint", str(tmp_path / "joint.json"), "--expert-usage", str(tmp_path / "usage.json"),
               "--out", str(tmp_path / "report"))
    assert done.returncode == 0, done.stderr
    assert "| s1 | 27.50 | -5.00 | 30.00 | 4.00 |" in done.stdout
    assert json.loads((tmp_path / "report" / "metrics.json").read_text()) == {
        "avg_cer": {"base": 20.0, "s1": 27.5}, "bwt": {"base": None, "s1": -5.0},
        "fwt": {"base": 0.0, "s1": 30.0}, "im": {"base": 2.0, "s1": 4.0},
        # one language per stage: CL-MASR's average and BWT are ours; its IM is undefined at the base
        "clmasr_avg_cer": {"base": 20.0, "s1": 27.5}, "clmasr_bwt_cer": {"base": None, "s1": -5.0},
        "clmasr_im_cer": {"base": None, "s1": 4.0},
        "clmasr_mean_over_stages_cer": {"clmasr_avg_cer": 23.75, "clmasr_bwt_cer": -5.0, "clmasr_im_cer": 4.0},
    }
    assert "| mean over stages | 23.75 | -5.00 | 4.00 |" in done.stdout.split("CL-MASR's definitions (CER points)")[1]
    for name in ("RESULTS.md", "cer_over_stages.png", "lid_acc_over_stages.png", "expert_usage.png"):
        assert (tmp_path / "report" / name).stat().st_size > 0
    results_md = (tmp_path / "report" / "RESULTS.md").read_text()
    assert "![Expert usage per layer and language](expert_usage.png)" in results_md
    (tmp_path / "usage.json").write_text(json.dumps({"0": {"eng": [0.5, 0.5]}, "1": {"spa": [1.0]}}))
    failed = run("lamer.bin.forgetting_report", "--matrix", str(tmp_path / "results.json"),
                 "--expert-usage", str(tmp_path / "usage.json"), "--out", str(tmp_path / "report2"))
    assert failed.returncode == 1 and "usage.json: layer 1 has languages ['spa']" in failed.stderr
    assert not (tmp_path / "report2").exists()


def test_forgetting_report_reads_expert_usage_only_when_present(tmp_path):
    results = {"stages": ["base", "s1"], "introduced": {"eng": "base", "spa": "s1"},
               "cer": {"base": {"eng": 20.0, "spa": 60.0}, "s1": {"eng": 25.0, "spa": 30.0}}}
    (tmp_path / "results.json").write_text(json.dumps(results))
    usage = tmp_path / "expert_usage.json"  # not written: adapters without routers
    args = ("lamer.bin.forgetting_report", "--matrix", str(tmp_path / "results.json"),
            "--expert_usage_if_present", str(usage))
    done = run(*args, "--out", str(tmp_path / "plain"))
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "plain" / "expert_usage.png").exists()
    usage.write_text(json.dumps({"0": {"eng": [0.9, 0.1], "spa": [0.2, 0.8]}}))
    done = run(*args, "--out", str(tmp_path / "routed"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "routed" / "expert_usage.png").stat().st_size > 0


DEEP = "[" * 100_000 + "]" * 100_000  # json.load: RecursionError


def test_forgetting_report_names_a_deeply_nested_file_in_one_line(tmp_path):
    (tmp_path / "results.json").write_text('{"stages":\n' + DEEP + "}")
    failed = run("lamer.bin.forgetting_report", "--matrix", str(tmp_path / "results.json"),
                 "--out", str(tmp_path / "r"))
    assert failed.returncode == 1
    assert failed.stderr.splitlines() == [f"forgetting_report: error: {tmp_path / 'results.json'}:2: JSON nested "
                                          "deeper than 64 levels, more than any file lamer reads; check that this is "
                                          "the right file"]
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("option", ["--joint", "--expert_usage"])
@pytest.mark.parametrize("content, message", [(DEEP.encode(), ":1: JSON nested deeper than 64 levels"),
                                              (b'{"eng":\n 1.0, "\xff": 2.0}', r":2: not UTF-8 \(byte 0xff")])
def test_forgetting_report_names_every_input_that_is_not_json_it_can_read(tmp_path, capsys, option, content, message):
    results = {"stages": ["base"], "introduced": {"eng": "base"}, "cer": {"base": {"eng": 20.0}}}
    (tmp_path / "results.json").write_text(json.dumps(results))
    (tmp_path / "other.json").write_bytes(content)
    assert forgetting_report.main(["--matrix", str(tmp_path / "results.json"), option, str(tmp_path / "other.json"),
                                   "--out", str(tmp_path / "r")]) == 1
    assert re.fullmatch(f"forgetting_report: error: {re.escape(str(tmp_path / 'other.json'))}{message}.*\n",
                        capsys.readouterr().err)


def test_forgetting_report_cli_reports_per_with_the_joint_scores_per(tmp_path):
    results = {
        "stages": ["base", "s1"], "introduced": {"eng": "base", "spa": "s1"},
        "cer": {"base": {"eng": 20.0, "spa": 60.0}, "s1": {"eng": 25.0, "spa": 30.0}},
        "per": {"base": {"eng": 10.0, "spa": 40.0}, "s1": {"eng": 14.0, "spa": 16.0}},
        "g2p": "espeak-ng 1.52.0 (espeakng-loader 0.2.4)",
    }
    (tmp_path / "results.json").write_text(json.dumps(results))
    (tmp_path / "joint.json").write_text(json.dumps({  # the joint run's score.json
        "eng": {"cer": 18.0, "per": 9.0, "lid_acc": 90.0, "n": 3}, "spa": {"cer": 26.0, "per": 12.0, "lid_acc": 80.0,
                                                                           "n": 3}}))
    done = run("lamer.bin.forgetting_report", "--matrix", str(tmp_path / "results.json"),
               "--joint", str(tmp_path / "joint.json"), "--out", str(tmp_path / "report"))
    assert done.returncode == 0, done.stderr
    # s1: avg_per (14+16)/2, bwt 10-14, fwt 40-16, im 16-12
    assert "| s1 | 15.00 | -4.00 | 24.00 | 4.00 |" in done.stdout.split("Metrics (PER points):")[1]
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert metrics["per"] == {"avg_per": {"base": 10.0, "s1": 15.0}, "bwt": {"base": None, "s1": -4.0},
                              "fwt": {"base": 0.0, "s1": 24.0}, "im": {"base": 1.0, "s1": 4.0},
                              "clmasr_avg_per": {"base": 10.0, "s1": 15.0},
                              "clmasr_bwt_per": {"base": None, "s1": -4.0},
                              "clmasr_im_per": {"base": None, "s1": 4.0},  # 16-12, undefined at the base
                              "clmasr_mean_over_stages_per": {"clmasr_avg_per": 12.5, "clmasr_bwt_per": -4.0,
                                                              "clmasr_im_per": 4.0}}
    assert metrics["im"] == {"base": 2.0, "s1": 4.0}  # the CER's, from the same joint file
    assert "| s1 | 15.00 | -4.00 | 4.00 |" in done.stdout.split("CL-MASR's definitions (PER points):")[1]
    assert (tmp_path / "report" / "per_over_stages.png").stat().st_size > 0


def test_forgetting_report_adds_the_base_model_with_every_label(tmp_path):
    """--base_quality: the score directory of the quality probe, as `score` writes it, becomes a table."""
    results = {"stages": ["base", "s1"], "introduced": {"eng": "base", "fra": "s1"},
               "cer": {"base": {"eng": 20.0, "fra": 60.0}, "s1": {"eng": 25.0, "fra": 30.0}}}
    (tmp_path / "results.json").write_text(json.dumps(results))
    (tmp_path / "ref").write_text("e1 ab cd\nf1 oui\n")
    (tmp_path / "hyp").write_text("e1 [eng] ab d\nf1 oui\n")
    (tmp_path / "utt2lang").write_text("e1 eng\nf1 fra\n")
    (tmp_path / "lid").write_text("e1 [eng]\nf1 [eng]\n")
    quality = tmp_path / "quality"
    done = run("lamer.bin.score", "--ref", str(tmp_path / "ref"), "--hyp", str(tmp_path / "hyp"),
               "--utt2lang", str(tmp_path / "utt2lang"), "--lid", str(tmp_path / "lid"), "--out", str(quality))
    assert done.returncode == 0, done.stderr
    done = run("lamer.bin.forgetting_report", "--matrix", str(tmp_path / "results.json"),
               "--base_quality", str(quality), "--out", str(tmp_path / "report"))
    assert done.returncode == 0, done.stderr
    table = ["| language | CER | PER | LID, first tag | LID, classifier |", "|:---|---:|---:|---:|---:|",
             "| eng | 20.00 | 33.33 | 100.00 | 100.00 |", "| fra | 0.00 | 0.00 | 0.00 | 0.00 |",
             "| all | 12.50 | 25.00 | 50.00 | 50.00 |"]  # pooled: 1 char edit of 8, 2 phone edits of 8
    results_md = (tmp_path / "report" / "RESULTS.md").read_text()
    assert "## The base model with every label\n\n" + "\n".join(table) in results_md
    assert "\n".join(table) in done.stdout
    (quality / "score.json").write_text(json.dumps({"eng": {"per": 1.0}}))
    failed = run("lamer.bin.forgetting_report", "--matrix", str(tmp_path / "results.json"),
                 "--base_quality", str(quality), "--out", str(tmp_path / "report2"))
    assert failed.returncode == 1 and f"{quality / 'score.json'}: ['eng'] has no numeric 'cer'" in failed.stderr
    assert not (tmp_path / "report2").exists()
