"""RESULTS.md, metrics.json and the over-stage plots for a results matrix; generated, never
hand-written."""
from __future__ import annotations

import datetime
import importlib.metadata
import subprocess
import sys
from pathlib import Path

from lamer.atomic import write_json_atomic, write_text_atomic
from lamer.eval.forgetting import (
    CLMASR_METRICS,
    METRICS,
    clmasr_metric_names,
    clmasr_metrics,
    forgetting_metrics,
    mean_over_introduced,
    mean_over_stages,
    metric_names,
)
from lamer.eval.markdown import markdown_table
from lamer.eval.results import Matrix, Results
from lamer.layout import RESULTS_MD

PROTOCOL_TEXT = {
    "retrained": "retrained: a fresh downstream probe is trained on every stage's model (ML-SUPERB protocol)",
    "fixed": "fixed: the probe trained on the base model is kept frozen and applied to every later "
    "stage's features (measures representation drift as seen by an already deployed model)",
}
# What each metric is, with {rate} the error rate it is computed on (CER or PER); keyed by the
# CER metrics' names, which metric_names(rate) gives in the same order.
METRIC_TEXT = {
    "avg_cer": "mean {rate} over the languages introduced so far",
    "bwt": "backward transfer, mean of {rate} at introduction minus {rate} now over older languages "
           "(negative = forgetting)",
    "fwt": "forward transfer, mean of base-model {rate} minus {rate} now over the languages introduced at this stage",
    "im": "intransigence, mean of {rate} now minus joint-training {rate} over the languages introduced at this stage",
}
# CL-MASR's metrics, keyed like CLMASR_METRICS; {rate} as above.
CLMASR_TEXT = {
    "avg": "CL-MASR's average (AWER), mean over the tasks learned so far of each task's {rate}",
    "bwt": "CL-MASR's backward transfer, mean over the older tasks (the base task included) of the task's {rate} "
           "when it was learned minus its {rate} now (negative = forgetting)",
    "im": "CL-MASR's intransigence, the new task's {rate} minus its joint-training {rate}; undefined at the base stage",
}
CLMASR_NOTE = (
    "The definitions of CL-MASR (Della Libera et al., 2023, arXiv:2310.16931; "
    "`benchmarks/CL_MASR/analyze_logs.py` of speechbrain/benchmarks), to set these runs beside its numbers: a task is "
    "the set of languages one stage introduces, valued by its mean {rate} over them, so the base languages count as "
    "one task (CL-MASR: the base languages, then one language per task). CL-MASR reports WER; these apply its "
    "definitions to {rate}. Its forward transfer is measured against single-task fine-tuning, which lamer does not "
    "run: it is not given, and fwt above (against the base model) is not comparable with it. The last row is "
    "CL-MASR's \"Average\" of each metric: its mean over the stages where it is defined. lamer's docs/scoring.md "
    "says how these differ from the metrics above."
)
PER_PLOT = "per_over_stages.png"
PER_TEXT = ("The phone error rate: reference and hypothesis turned into phones by {g2p} with the voice of the "
            "reference language{voices} (`lamer.data.g2p`: stress marks dropped, length and tone kept with their "
            "phone, a word espeak-ng reads in another language one phone, word boundaries not counted), then phone "
            "edits over reference phones. CER follows spelling; PER compares what is said, across languages and "
            "scripts.")
CLASSIFIER_PLOT = "lid_acc_classifier_over_stages.png"
CLASSIFIER_TEXT = ("The language of an utterance is the prediction of the probe's utterance-level classifier "
                   "(mean and std over the utterance of the probe encoder's output, or of its weighted sum of "
                   "layers with `lid_input: frontend`, then a linear layer; trained with the CTC probe, "
                   "`model: lamer_lid`).")
NO_CLASSIFIER_TEXT = ("Absent: this run's probes have no utterance-level language classifier "
                      "(`model: lamer_lid` in the probe config adds one).")


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    """Output of ``git ARGS`` in the repository holding this lamer checkout, or "unknown" outside one."""
    try:
        done = subprocess.run(["git", *args], cwd=Path(__file__).resolve().parent,
                              capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def environment() -> dict[str, str]:
    """What ESPnet's RESULTS.md headers record, under its names: date (UTC, as ``date`` prints it),
    python, espnet and pytorch versions, and the lamer checkout's git commit and commit date."""
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%a %b %d %H:%M:%S UTC %Y"),
        "python version": sys.version.replace("\n", " "),
        "espnet version": f"espnet {_package_version('espnet')}",
        "pytorch version": f"pytorch {_package_version('torch')}",
        "Git hash": _git("rev-parse", "HEAD"),
        "Commit date": _git("show", "-s", "--format=%cd", "HEAD"),
    }


def environment_markdown(env: dict[str, str]) -> str:
    """ESPnet's ``## Environments`` block of ``env`` (``environment()``): one item per entry, the
    commit date under the git hash."""
    lines = [f"{'  ' if key == 'Commit date' else ''}- {key}: `{value}`" for key, value in env.items()]
    return "## Environments\n\n" + "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def matrix_table(results: Results, matrix: Matrix) -> str:
    """Stages x languages table of ``matrix``: bold where a language is introduced, italic before
    it was introduced, a dash where it was not scored."""
    header = ["stage"] + [f"{lang} ({results.introduced[lang]})" for lang in results.languages]
    rows = []
    for k, stage in enumerate(results.stages):
        cells = [stage]
        for lang in results.languages:
            value = matrix[stage].get(lang)
            t = results.stage_index(lang)
            text = _fmt(value)
            if value is not None and k == t:
                text = f"**{text}**"
            elif value is not None and k < t:
                text = f"_{text}_"
            cells.append(text)
        rows.append(cells)
    return markdown_table(header, rows)


def metrics_table(results: Results, metrics: dict[str, dict[str, float | None]], rate: str = "cer") -> str:
    """Stages x metrics table of the metrics over the ``rate`` matrix (``cer``, or ``per`` with
    ``metrics`` as ``forgetting_metrics`` returns them for it); a dash marks an undefined (null) metric."""
    names = metric_names(rate)
    return markdown_table(["stage", *names], [[s] + [_fmt(metrics[m][s]) for m in names] for s in results.stages])


def clmasr_key(rate: str) -> str:
    """The key, beside the per-stage CL-MASR metrics over ``rate``, of their means over stages."""
    return f"clmasr_mean_over_stages_{rate}"


def clmasr_table(results: Results, metrics: dict[str, dict[str, float | None]], rate: str = "cer") -> str:
    """Stages x CL-MASR metrics table over the ``rate`` matrix, ending with each metric's mean over
    stages (``metrics`` as ``write_report`` returns them, or its ``per`` entry for PER)."""
    names = clmasr_metric_names(rate)
    rows = [[s] + [_fmt(metrics[m][s]) for m in names] for s in results.stages]
    mean = metrics[clmasr_key(rate)]
    return markdown_table(["stage", *names], rows + [["mean over stages"] + [_fmt(mean[m]) for m in names]])


def _clmasr_section(results: Results, metrics: dict[str, dict[str, float | None]], rate: str,
                    joint_source: str | None) -> str:
    """CL-MASR's metrics over the ``rate`` matrix: their table, what each one is, and how they compare."""
    names = clmasr_metric_names(rate)
    return (f"## Continual-learning metrics, CL-MASR's definitions ({rate.upper()} points)\n\n"
            f"{clmasr_table(results, metrics, rate)}\n\n"
            + "\n".join(f"- {m}: {CLMASR_TEXT[n].format(rate=rate.upper())}" for m, n in zip(names, CLMASR_METRICS))
            + f"\n- joint-training reference: {joint_source or 'none given (the intransigence is undefined)'}"
            + f"\n\n{CLMASR_NOTE.format(rate=rate.upper())}")


def _metrics_section(results: Results, metrics: dict[str, dict[str, float | None]], rate: str,
                     joint_source: str | None) -> str:
    """The continual-learning metrics over the ``rate`` matrix: their table and what each one is."""
    names = metric_names(rate)
    return (f"## Continual-learning metrics ({rate.upper()} points)\n\n{metrics_table(results, metrics, rate)}\n\n"
            + "\n".join(f"- {m}: {METRIC_TEXT[n].format(rate=rate.upper())}" for m, n in zip(names, METRICS))
            + f"\n- joint-training reference: {joint_source or 'none given (im is undefined)'}")


def _voices_text(voices: dict[str, str] | None) -> str:
    """`` (espeak-ng voices: deu `de`, vie `vi`)``, or nothing where the voices were not recorded."""
    if not voices:
        return ""
    return " (espeak-ng voices: " + ", ".join(f"{lang} `{voice}`" for lang, voice in voices.items()) + ")"


def render_results_md(
    results: Results, metrics: dict[str, dict[str, float | None]], env: dict[str, str],
    plots: dict[str, str], joint_source: str | None, routing: str | None = None, base_quality: str | None = None,
) -> str:
    """The RESULTS.md text; ``metrics`` as ``write_report`` returns them; ``plots`` maps a caption to
    a PNG path relative to RESULTS.md. With a PER matrix, ``metrics["per"]`` holds the metrics over it.
    ``routing``: the section of the routers against their ceiling, before the plots; ``base_quality``: the
    section of the base model read with every label (:mod:`lamer.eval.base_quality`), before it."""
    legend = ("Bold: the stage that introduced the language; italic: scored before it was introduced; "
              "columns name the introducing stage.")
    parts = [
        "<!-- Generated by python -m lamer.bin.forgetting_report; do not edit by hand. -->",
        "# RESULTS",
        environment_markdown(env),
        f"## Protocol\n\n{PROTOCOL_TEXT[results.protocol]}",
        f"## CER (%) per language after each stage\n\n{matrix_table(results, results.cer)}\n\n{legend}",
        _metrics_section(results, metrics, "cer", joint_source),
        _clmasr_section(results, metrics, "cer", joint_source),
    ]
    if results.per is not None:
        parts.append(f"## PER (%) per language after each stage\n\n{matrix_table(results, results.per)}\n\n{legend} "
                     + PER_TEXT.format(g2p=f"`{results.g2p}`" if results.g2p else "espeak-ng (version not recorded)",
                                       voices=_voices_text(results.g2p_voices)))
        parts.append(_metrics_section(results, metrics["per"], "per", joint_source))
        parts.append(_clmasr_section(results, metrics["per"], "per", joint_source))
    if results.lid_acc is not None:
        parts.append(f"## LID accuracy (%) per language after each stage\n\n{matrix_table(results, results.lid_acc)}"
                     "\n\nThe language of an utterance is the first `[iso]` tag of its decoded hypothesis.")
    if results.lid_acc_classifier is not None:
        parts.append("## LID accuracy (%) of the utterance classifier per language after each stage\n\n"
                     f"{matrix_table(results, results.lid_acc_classifier)}\n\n{CLASSIFIER_TEXT}")
    elif results.lid_acc is not None:
        parts.append(f"## LID accuracy (%) of the utterance classifier\n\n{NO_CLASSIFIER_TEXT}")
    if base_quality:
        parts.append(base_quality)
    if routing:
        parts.append(routing)
    if plots:
        parts.append("## Plots\n\n" + "\n\n".join(f"![{caption}]({path})" for caption, path in plots.items()))
    return "\n\n".join(parts) + "\n"


def _all_metrics(results: Results, joint: dict[str, float] | None, rate: str) -> dict:
    """Ours over the ``rate`` matrix, then CL-MASR's and their means over stages (``clmasr_key``)."""
    clmasr = clmasr_metrics(results, joint, rate)
    return {**forgetting_metrics(results, joint, rate), **clmasr,
            clmasr_key(rate): {name: mean_over_stages(values) for name, values in clmasr.items()}}


def write_report(
    results: Results, out_dir: Path, joint: dict[str, float] | None = None, joint_source: str | None = None,
    expert_usage: dict[str, dict[str, list[float]]] | None = None, joint_per: dict[str, float] | None = None,
    routing_vs_ceiling: dict | None = None, base_quality: str | None = None,
) -> dict[str, dict[str, float | None]]:
    """Compute the metrics and write ``metrics.json``, ``cer_over_stages.png`` (plus
    ``per_over_stages.png`` when PER is present, ``lid_acc_over_stages.png`` when LID accuracy is,
    ``lid_acc_classifier_over_stages.png`` when the utterance classifier's is, and
    ``expert_usage.png`` when router statistics ``{layer: {iso: [mean weight per expert]}}`` are
    given) and ``RESULTS.md`` into ``out_dir``; return the metrics: ours (``forgetting_metrics``),
    then CL-MASR's (``clmasr_metrics``) and their means over stages (under ``clmasr_key("cer")``).
    With PER, the same over it (``joint_per``: the joint-training PER, for its intransigence) are
    under the key ``per``. ``routing_vs_ceiling`` (``lamer.eval.routing_vs_ceiling``'s combined file)
    adds its tables and annotates the heatmap with its last stage's divergences; ``base_quality`` is a
    section of RESULTS.md (:func:`lamer.eval.base_quality.base_quality_section`)."""
    from lamer.eval.plots import check_expert_usage, plot_expert_usage, plot_over_stages  # matplotlib only here
    from lamer.eval.routing_vs_ceiling import last_stage_divergence, render_markdown

    out_dir = Path(out_dir)
    metrics = _all_metrics(results, joint, "cer")
    if results.per is not None:
        metrics["per"] = _all_metrics(results, joint_per, "per")
    write_json_atomic(out_dir / "metrics.json", metrics)
    plots = {"CER per language over stages": "cer_over_stages.png"}
    plot_over_stages(results.cer, results.stages, results.introduced, out_dir / "cer_over_stages.png",
                     title=f"CER per language over stages ({results.protocol} probe)", ylabel="CER (%)",
                     average=metrics["avg_cer"])
    if results.per is not None:
        plots["PER per language over stages"] = PER_PLOT
        plot_over_stages(results.per, results.stages, results.introduced, out_dir / PER_PLOT,
                         title=f"PER per language over stages ({results.protocol} probe)", ylabel="PER (%)",
                         average=metrics["per"]["avg_per"])
    else:
        (out_dir / PER_PLOT).unlink(missing_ok=True)  # an earlier report's
    if results.lid_acc is not None:
        plots["LID accuracy per language over stages"] = "lid_acc_over_stages.png"
        plot_over_stages(results.lid_acc, results.stages, results.introduced, out_dir / "lid_acc_over_stages.png",
                         title=f"LID accuracy per language over stages ({results.protocol} probe)",
                         ylabel="LID accuracy (%)", average=mean_over_introduced(results, results.lid_acc),
                         percent_axis=True)
    if results.lid_acc_classifier is not None:
        plots["LID accuracy of the utterance classifier per language over stages"] = CLASSIFIER_PLOT
        plot_over_stages(results.lid_acc_classifier, results.stages, results.introduced, out_dir / CLASSIFIER_PLOT,
                         title=f"LID accuracy of the utterance classifier over stages ({results.protocol} probe)",
                         ylabel="LID accuracy (%)",
                         average=mean_over_introduced(results, results.lid_acc_classifier), percent_axis=True)
    else:
        (out_dir / CLASSIFIER_PLOT).unlink(missing_ok=True)  # an earlier report's
    if expert_usage is not None:
        plots["Expert usage per layer and language"] = "expert_usage.png"
        found = check_expert_usage(expert_usage)[1]
        plan_order = [lang for lang in results.languages if lang in found]
        plot_expert_usage(expert_usage, out_dir / "expert_usage.png",
                          languages=plan_order + [lang for lang in found if lang not in plan_order],
                          divergence=last_stage_divergence(routing_vs_ceiling) if routing_vs_ceiling else None)
    routing = render_markdown(routing_vs_ceiling) if routing_vs_ceiling else None
    write_text_atomic(out_dir / RESULTS_MD, render_results_md(results, metrics, environment(), plots, joint_source,
                                                              routing, base_quality))
    return metrics


def update_marked_section(path: Path, name: str, body: str, header: str) -> None:
    """Replace the text between ``<!-- <name>:begin -->`` and ``<!-- <name>:end -->`` in the
    markdown file ``path`` by ``body``, keeping everything outside the markers; append the
    markers when absent, and create the file (starting with ``header``) when missing. Atomic."""
    path = Path(path)
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else header.rstrip("\n") + "\n"
    first, last = text.find(begin), text.find(end)
    if (first < 0) != (last < 0) or last < first or text.count(begin) > 1 or text.count(end) > 1:
        raise ValueError(f"{path}: the markers {begin} and {end} must both appear once, in that order; "
                         "fix the file by hand")
    section = f"{begin}\n{body.strip()}\n{end}"
    if first < 0:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    else:
        text = text[:first] + section + text[last + len(end):]
    write_text_atomic(path, text)
