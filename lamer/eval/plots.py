"""The figures a reader looks at first: CER (or LID accuracy) per language over the continual
stages, the LID confusion matrix, and the expert usage of the Lamer routers per layer and
language. Figures are built on ``matplotlib.figure.Figure`` (Agg, no pyplot state) and written
as PNG atomically.
"""
from __future__ import annotations

import io
from itertools import groupby
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lamer.atomic import write_atomic
from lamer.eval import EvalInputError

# One colour family per introducing stage, so languages learned together read as a group.
_FAMILIES = ("Blues", "Oranges", "Greens", "Purples", "Reds", "Greys", "YlOrBr", "BuGn")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_DPI = 130


def save_png(fig: Figure, out_png: Path) -> None:
    """Render ``fig`` to PNG and write it to ``out_png`` atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    write_atomic(Path(out_png), lambda handle: handle.write(buffer.getvalue()))


def _language_styles(stages: list[str], introduced: dict[str, str]) -> dict[str, dict]:
    """Colour (shade of the introducing stage's family) and marker per language."""
    styles = {}
    for k, stage in enumerate(stages):
        group = sorted(lang for lang, first in introduced.items() if first == stage)
        family = colormaps[_FAMILIES[k % len(_FAMILIES)]]
        shades = np.linspace(0.85, 0.5, len(group)) if len(group) > 1 else [0.75]
        for i, (lang, shade) in enumerate(zip(group, shades)):
            styles[lang] = {"color": family(shade), "marker": _MARKERS[i % len(_MARKERS)]}
    return styles


def _wrap(words: list[str], per_line: int) -> str:
    return "\n".join(", ".join(words[i : i + per_line]) for i in range(0, len(words), per_line))


def plot_over_stages(
    matrix: dict[str, dict[str, float]],
    stages: list[str],
    introduced: dict[str, str],
    out_png: Path,
    *,
    title: str,
    ylabel: str,
    average: dict[str, float | None] | None = None,
    percent_axis: bool = False,
) -> None:
    """Line plot of a per-language score over the stages.

    ``matrix`` is ``{stage: {iso: value}}``. Each language has a solid line with filled markers
    from the stage that introduced it; scores from before it was learned (if any) are hollow
    markers on a dotted line. A dashed vertical line marks each later stage that introduces
    languages, labelled with them; colour families group languages introduced together.
    ``average`` (per stage, None where undefined) is drawn as a thick black dashed line;
    ``percent_axis`` fixes the y axis to 0-100 (accuracies).
    """
    styles = _language_styles(stages, introduced)
    fig = Figure(figsize=(min(4.5 + 1.1 * len(stages), 14), 4.8))
    ax = fig.add_subplot()
    drew_before = False
    for lang in sorted(introduced, key=lambda j: (stages.index(introduced[j]), j)):
        t = stages.index(introduced[lang])
        points = [(k, matrix[s][lang]) for k, s in enumerate(stages) if lang in matrix.get(s, {})]
        before = [p for p in points if p[0] < t]
        after = [p for p in points if p[0] >= t]
        style = styles[lang]
        if before:
            drew_before = True
            bridge = before + after[:1]
            ax.plot(*zip(*bridge), linestyle=":", color=style["color"], linewidth=1.3)
            ax.plot(*zip(*before), linestyle="none", marker=style["marker"], markersize=7,
                    markerfacecolor="white", markeredgecolor=style["color"], markeredgewidth=1.5)
        if after:
            ax.plot(*zip(*after), linestyle="-", linewidth=2, marker=style["marker"], markersize=7,
                    color=style["color"], label=f"{lang} (from {introduced[lang]})")
    if average is not None:
        points = [(k, average[s]) for k, s in enumerate(stages) if average.get(s) is not None]
        ax.plot(*zip(*points), color="black", linestyle="--", linewidth=2.5, marker="D", markersize=5,
                label="mean of introduced languages", zorder=3)
    for k, stage in enumerate(stages[1:], start=1):
        new = sorted(lang for lang, first in introduced.items() if first == stage)
        if new:
            ax.axvline(k, color="0.45", linestyle="--", linewidth=1)
            ax.text(k, 1.01, "+ " + _wrap(new, 4), transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=8, color="0.25")
    handles, labels = ax.get_legend_handles_labels()
    if drew_before:
        handles.append(Line2D([], [], color="0.4", linestyle=":", marker="o", markerfacecolor="white"))
        labels.append("before it was introduced")
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False,
              title="language", title_fontsize=9)
    ax.set_xticks(range(len(stages)), stages)
    ax.set_xlim(-0.4, len(stages) - 0.6)
    top = max([v for row in matrix.values() for v in row.values()] + [1.0])
    ax.set_ylim(0, 101 if percent_axis else top * 1.08)  # headroom so the top markers are whole
    ax.set_xlabel("after stage")
    ax.set_ylabel(ylabel)
    ax.set_title(title, pad=26 if len(stages) > 1 else 8)
    ax.grid(axis="y", alpha=0.3)
    save_png(fig, out_png)


def plot_lid_confusion(confusion: dict, out_png: Path,
                       predicted: str = "predicted tag (first [xxx] of the hypothesis)") -> None:
    """Heatmap of LID confusion counts (``{"rows", "columns", "counts"}`` as written by the
    scorer): colour is the share of the reference language's utterances, the number is the
    count (zeros left blank); the extra columns (unknown tag, no tag) sit behind a divider.
    ``predicted`` labels the columns' axis: where the predictions come from."""
    rows, columns = confusion["rows"], confusion["columns"]
    counts = np.asarray(confusion["counts"], dtype=float)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    cell = min(0.5, 22.0 / len(columns))  # inches; large language sets shrink to a readable page
    fig = Figure(figsize=(max(5.0, cell * len(columns) + 3.0), max(3.8, cell * len(rows) + 2.2)))
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(np.arange(len(columns) + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(rows) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="0.85", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    if cell >= 0.35:  # smaller cells cannot hold a readable number
        for (i, j), count in np.ndenumerate(counts):
            if count:
                ax.text(j, i, f"{int(count)}", ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.55 else "black")
    ax.axvline(len(rows) - 0.5, color="0.3", linewidth=1.5)
    label_size = 9 if cell >= 0.3 else 6
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=label_size)
    ax.set_yticks(range(len(rows)), rows, fontsize=label_size)
    ax.set_xlabel(predicted)
    ax.set_ylabel("reference language")
    total = int(counts.sum())
    correct = int(sum(counts[i, i] for i in range(len(rows))))
    ax.set_title(f"LID confusion: {total} utterances, accuracy {100.0 * correct / max(total, 1):.1f}%")
    fig.colorbar(image, ax=ax, fraction=0.05, pad=0.03).set_label("share of the reference language")
    save_png(fig, out_png)


def check_expert_usage(
    usage: dict[str, dict[str, list[float]]], source: str = "expert usage"
) -> tuple[list[int], list[str], list[np.ndarray]]:
    """Validate an expert-usage dict (errors name ``source``, the layer and the language); return
    layer indices (sorted), languages (sorted) and, per layer, a languages x experts array."""
    if not isinstance(usage, dict) or not usage or not all(isinstance(v, dict) for v in usage.values()):
        raise EvalInputError(f"{source}: expected a non-empty {{layer: {{iso: [weight per expert]}}}}")
    try:
        layers = sorted(usage, key=int)
    except ValueError as err:
        raise EvalInputError(f"{source}: layer keys must be integers, got {sorted(usage)}") from err
    languages = sorted(usage[layers[0]])
    arrays = []
    for layer in layers:
        per_lang = usage[layer]
        if sorted(per_lang) != languages:
            raise EvalInputError(
                f"{source}: layer {layer} has languages {sorted(per_lang)}, layer {layers[0]} has {languages}"
            )
        rows = []
        for lang in languages:
            try:
                row = np.asarray(per_lang[lang], dtype=float)
            except (TypeError, ValueError) as err:
                raise EvalInputError(f"{source}: layer {layer}, {lang!r}: expected a list of numbers") from err
            if row.ndim != 1 or not row.size or not np.all(np.isfinite(row)) or np.any(row < 0):
                raise EvalInputError(
                    f"{source}: layer {layer}, {lang!r}: expected a non-empty list of finite weights >= 0")
            rows.append(row)
        if len({row.size for row in rows}) != 1:
            raise EvalInputError(f"{source}: layer {layer}: every language needs the same expert count")
        arrays.append(np.stack(rows))
    return [int(layer) for layer in layers], languages, arrays


def plot_expert_usage(
    usage: dict[str, dict[str, list[float]]],
    out_png: Path,
    *,
    languages: list[str] | None = None,
    title: str = "Expert usage: mean router weight per expert",
    divergence: dict[int, tuple[float, float]] | None = None,
) -> None:
    """Heatmap of mean router weight per expert, per layer and language.

    ``usage`` is ``{"<layer index>": {"<iso3>": [mean weight of expert 0, 1, ...]}}``; layers may
    have different expert counts. Rows are languages (in the order of ``languages``, default
    sorted), columns the experts of each layer side by side (layer blocks divided by white
    lines, labelled on top); consecutive layers with the same expert count form one panel, titled
    with the uniform weight for comparison. One colour scale for all panels; a dot marks each
    language's most used expert in every layer. ``divergence`` (``{layer: (routers' JS, ceiling
    JS)}``, :func:`lamer.eval.routing_vs_ceiling.last_stage_divergence`) writes both under the
    label of each layer it has.
    """
    layers, found, arrays = check_expert_usage(usage)
    divergence = divergence or {}
    if languages is not None:
        if sorted(languages) != found:
            raise EvalInputError(f"expert usage: languages {sorted(languages)} given, the usage holds {found}")
        order = [found.index(lang) for lang in languages]
        arrays = [a[order] for a in arrays]
    else:
        languages = found
    groups = [list(g) for _, g in groupby(range(len(layers)), key=lambda i: arrays[i].shape[1])]
    # Panel width follows its column count, with a floor so that a narrow panel keeps its title.
    widths = [max(sum(arrays[i].shape[1] for i in group), 5) for group in groups]
    vmax = max(float(a.max()) for a in arrays) or 1.0
    fig = Figure(figsize=(min(max(2.5 + 0.3 * sum(widths), 7.0), 26), 2.4 + 0.42 * len(languages)),
                 layout="constrained")
    axes = fig.subplots(1, len(groups), sharey=True, width_ratios=widths, squeeze=False)[0]
    for ax, group in zip(axes, groups):
        block = np.concatenate([arrays[i] for i in group], axis=1)
        image = ax.imshow(block, cmap="viridis", vmin=0, vmax=vmax, aspect="auto", interpolation="nearest")
        n_experts = arrays[group[0]].shape[1]
        starts = [b * n_experts for b in range(len(group))]
        for b, (start, i) in enumerate(zip(starts, group)):
            if b:
                ax.axvline(start - 0.5, color="white", linewidth=3)
            top = arrays[i].argmax(axis=1)
            ax.scatter(start + top, range(len(languages)), s=18, c="black", edgecolors="white", linewidths=0.8)
        ax.set_xticks(range(block.shape[1]), [str(e % n_experts) for e in range(block.shape[1])],
                      fontsize=7 if n_experts > 4 else 8)
        ax.set_xlabel("expert")
        layer_axis = ax.secondary_xaxis("top")
        labels = [f"layer {layers[i]}" + (f"\n{divergence[layers[i]][0]:.3f}/{divergence[layers[i]][1]:.3f}"
                                          if layers[i] in divergence else "") for i in group]
        layer_axis.set_xticks([s + (n_experts - 1) / 2 for s in starts], labels, fontsize=7 if divergence else 8)
        layer_axis.tick_params(length=0)
        ax.set_title(f"{n_experts} experts per layer\n(uniform weight {1 / n_experts:.3g})", fontsize=9)
    axes[0].set_yticks(range(len(languages)), languages)
    axes[0].set_ylabel("language")
    fig.colorbar(image, ax=list(axes), fraction=0.03, pad=0.01).set_label("mean router weight")
    legend = "dot: the language's most used expert in each layer"
    if divergence:
        legend += (";\na/b under a layer: its routers' mean JS divergence between languages (nats) / "
                   "the ceiling of a gate on their inputs")
    fig.suptitle(f"{title}\n({legend})", fontsize=10)
    save_png(fig, out_png)


def plot_system_curves(
    curves: dict[str, dict],
    stages: list[str],
    out_png: Path,
    *,
    title: str,
    ylabel: str,
    joint: str | None = None,
    control: str | None = None,
) -> None:
    """One line per system of a score over the continual stages: mean over seeds with a band of
    plus/minus one standard deviation.

    ``curves`` is ``{system: {"stages": [...], "mean": [...], "std": [...]}}`` in legend order
    (None where a stage has no value). Systems run over ``stages`` are lines; a system with other
    stages (the joint upper bound trains its languages in one stage) is drawn as a horizontal line
    at its last stage's mean across the plot. ``joint`` is black and dashed, ``control`` grey
    and dotted, so the reference systems never read as methods.
    """
    colours = colormaps["tab10"]
    fig = Figure(figsize=(min(5.5 + 1.1 * len(stages), 14), 4.8))
    ax = fig.add_subplot()
    span = np.array([-0.4, len(stages) - 0.6])
    method_index = 0
    for name, curve in curves.items():
        role = " (upper bound)" if name == joint else " (control)" if name == control else ""
        if name == joint:
            style = {"color": "black", "linestyle": "--", "linewidth": 2.5, "marker": "D"}
        elif name == control:
            style = {"color": "0.45", "linestyle": ":", "linewidth": 2.2, "marker": "s"}
        else:
            style = {"color": colours(method_index % 10), "linestyle": "-", "linewidth": 2.0,
                     "marker": _MARKERS[method_index % len(_MARKERS)]}
            method_index += 1
        mean = np.array([np.nan if v is None else v for v in curve["mean"]], dtype=float)
        std = np.array([np.nan if v is None else v for v in curve["std"]], dtype=float)
        if list(curve["stages"]) == list(stages):
            x = np.arange(len(stages))
            ax.plot(x, mean, markersize=6, label=name + role, **style)
            ax.fill_between(x, mean - std, mean + std, color=style["color"], alpha=0.15, linewidth=0)
        else:
            final, spread = mean[-1], std[-1]
            ax.plot(span, [final, final], label=f"{name}{role}: after {curve['stages'][-1]}",
                    **{**style, "marker": None})
            ax.fill_between(span, final - spread, final + spread, color=style["color"], alpha=0.1, linewidth=0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False,
              title="system (mean ± std over seeds)", title_fontsize=9)
    ax.set_xticks(range(len(stages)), stages)
    ax.set_xlim(*span)
    ax.set_xlabel("after stage")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    save_png(fig, out_png)
