"""Routing measured against its ceiling: per continual stage and routed layer, how far the trained
routers separate languages beside how far a linear gate on the same inputs could.

Input: per stage, what ``python -m lamer.bin.routing_ceiling`` wrote for that stage's adapters
(``{"languages", "eval_languages", "routers": {"<layer>.<module>": {...}}}``, one entry per frame
router; ``lamer.eval.routing_ceiling``). Per layer, the values of its routers (one per patched
module) averaged:

- ``js_router``: the trained routers' mean Jensen-Shannon divergence (nats) between the languages'
  mean routing distributions, on the evaluation frames;
- ``js_hard``: the ceiling, the same divergence for a router with one expert per language that
  sends each frame to the best guess of a linear frame-level language classifier fitted on what
  the routers read (top-1): how far a linear gate on these inputs separates languages when it
  routes as well as a supervised classifier, its temperature taken to zero;
- ``js_soft``: the same for a router whose weights are that classifier's posteriors (a softmax gate
  set to it); it is the lower of the two and the noisier on few frames, and an untrained gate may
  pass it, so the ratio is taken to the top-1 ceiling;
- ``ratio``: ``js_router / js_hard`` (1: the routers separate languages as far as such a gate
  would; null where the ceiling is 0);
- ``frame_acc`` / ``chance``: the classifier's frame accuracy and the largest language's share;
- ``experts`` (routed experts per router), ``routers`` (routers averaged), ``frames`` (evaluation
  frames per router).

The combined file (``routing_vs_ceiling.json`` of an experiment) is
``{"stages": [{"stage", "languages", "layers": [{"layer", ...}, ...]}, ...]}``, stages in plan
order, layers by index: lists, so the order survives any rewriting of the JSON.
"""
from __future__ import annotations

import math
from collections import defaultdict

from lamer.eval import EvalInputError
from lamer.eval.markdown import markdown_table

ROUTER_KEYS = ("experts", "frames", "frame_acc", "chance", "js_soft", "js_hard", "js_router")
LAYER_KEYS = ("layer", "experts", "routers", "frames", "js_router", "js_soft", "js_hard", "ratio", "frame_acc",
              "chance")
_AVERAGED = ("frame_acc", "chance", "js_soft", "js_hard", "js_router")


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EvalInputError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def _layer_of(name: object, source: str) -> int:
    layer, dot, module = str(name).partition(".")
    if not dot or not module or not layer.isdigit():
        raise EvalInputError(f"{source}: routers: {name!r} is not a router name '<layer>.<module>'")
    return int(layer)


def layer_table(ceiling: object, source: str) -> tuple[list[str], list[dict]]:
    """The languages and per-layer rows (``LAYER_KEYS``) of one ``routing_ceiling`` output; an
    EvalInputError names ``source`` and the router or key that is malformed."""
    if not isinstance(ceiling, dict) or not isinstance(ceiling.get("routers"), dict) or not ceiling["routers"]:
        raise EvalInputError(f"{source}: expected routing_ceiling's output, a mapping with a non-empty 'routers'")
    languages = ceiling.get("languages")
    if not isinstance(languages, list) or not all(isinstance(lang, str) for lang in languages):
        raise EvalInputError(f"{source}: languages: expected a list of language codes")
    by_layer: dict[int, list[dict]] = defaultdict(list)
    for name, router in ceiling["routers"].items():
        layer = _layer_of(name, source)
        if not isinstance(router, dict):
            raise EvalInputError(f"{source}: routers: {name}: expected a mapping")
        missing = [key for key in ROUTER_KEYS if key not in router]
        if missing:
            raise EvalInputError(f"{source}: routers: {name}: no {', '.join(missing)}")
        by_layer[layer].append({key: _number(router[key], f"{source}: routers: {name}: {key}") for key in ROUTER_KEYS})
    rows = []
    for layer, routers in sorted(by_layer.items()):
        if len({r["experts"] for r in routers}) != 1:
            raise EvalInputError(f"{source}: layer {layer}: its routers have different numbers of experts")
        row = {key: sum(r[key] for r in routers) / len(routers) for key in _AVERAGED}
        row.update(layer=layer, experts=int(routers[0]["experts"]), routers=len(routers),
                   frames=int(routers[0]["frames"]),
                   ratio=row["js_router"] / row["js_hard"] if row["js_hard"] else None)
        rows.append({key: row[key] for key in LAYER_KEYS})
    return languages, rows


def combine(ceilings: list[tuple[str, object, str]]) -> dict:
    """The combined file (module docstring) of ``[(stage, routing_ceiling output, its source)]``
    in plan order."""
    stages = []
    for stage, ceiling, source in ceilings:
        languages, layers = layer_table(ceiling, source)
        stages.append({"stage": stage, "languages": languages, "layers": layers})
    return {"stages": stages}


def check_routing_vs_ceiling(data: object, source: str) -> dict:
    """``data`` if it is a combined file (module docstring); EvalInputError names ``source`` and
    the stage, layer or key otherwise."""
    if not isinstance(data, dict) or not isinstance(data.get("stages"), list) or not data["stages"]:
        raise EvalInputError(f"{source}: expected {{\"stages\": [{{\"stage\", \"languages\", \"layers\"}}, ...]}}")
    for k, stage in enumerate(data["stages"]):
        where = f"{source}: stages[{k}]"
        if not isinstance(stage, dict) or not isinstance(stage.get("stage"), str) \
                or not isinstance(stage.get("languages"), list) or not isinstance(stage.get("layers"), list):
            raise EvalInputError(f"{where}: expected a mapping with 'stage', 'languages' and 'layers'")
        for row in stage["layers"]:
            if not isinstance(row, dict) or sorted(row) != sorted(LAYER_KEYS):
                raise EvalInputError(f"{where} ({stage['stage']}): layers: expected rows with the keys "
                                     f"{', '.join(LAYER_KEYS)}")
            for key in LAYER_KEYS:
                if not (key == "ratio" and row[key] is None):
                    _number(row[key], f"{where} ({stage['stage']}): layer {row['layer']}: {key}")
    return data


def _js(value: float) -> str:
    return f"{value:.3f}"


def last_stage_divergence(data: dict) -> dict[int, tuple[float, float]]:
    """``{layer: (routers' JS, ceiling JS)}`` of the last stage of a combined file (what the
    expert-usage heatmap, drawn for the last stage's adapters, annotates)."""
    return {row["layer"]: (row["js_router"], row["js_hard"]) for row in data["stages"][-1]["layers"]}


def render_markdown(data: dict) -> str:
    """RESULTS.md's section of a combined file: one table per stage and what its columns are."""
    parts = ["## Routing against its ceiling\n\n"
             "Per routed layer after each continual stage, on the languages learned so far "
             "(`python -m lamer.bin.routing_ceiling`, a sample of each language's dev utterances; a layer's "
             "routers, one per patched module, averaged). Routers' JS: the trained routers' mean Jensen-Shannon "
             "divergence (nats) between the languages' mean routing distributions; ceiling JS: the same for a "
             "router with one expert per language that sends each frame to the best guess of a linear "
             "frame-level language classifier fitted on what the routers read (training utterances, other "
             "speakers): how far a gate on these inputs separates languages when it routes as well as a "
             "supervised classifier (top-1); soft: that router weighting the experts by the classifier's "
             "posteriors; ratio: routers' JS over ceiling JS (1: as far as such a gate); frame LID: the "
             "classifier's frame accuracy (chance: the largest language's share). JS is 0 for languages routed "
             "alike and at most log 2 = 0.693."]
    for stage in data["stages"]:
        rows = [[str(row["layer"]), str(row["experts"]), _js(row["js_router"]), _js(row["js_hard"]),
                 _js(row["js_soft"]), "–" if row["ratio"] is None else f"{row['ratio']:.2f}",
                 f"{100 * row['frame_acc']:.1f} ({100 * row['chance']:.1f})"]
                for row in stage["layers"]]
        header = ["layer", "experts", "routers' JS", "ceiling JS", "ceiling JS, soft", "ratio", "frame LID % (chance)"]
        parts.append(f"### After {stage['stage']} ({', '.join(stage['languages'])})\n\n{markdown_table(header, rows)}")
    return "\n\n".join(parts)


def render_cell(data: dict) -> str:
    """One table cell of the last stage: ``L<layer>x<experts> <routers' JS>/<ceiling JS>`` per layer."""
    return "; ".join(f"L{row['layer']}x{row['experts']} {_js(row['js_router'])}/{_js(row['js_hard'])}"
                     for row in data["stages"][-1]["layers"])
