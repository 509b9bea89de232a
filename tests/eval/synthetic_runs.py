"""Synthetic ablation runs with per-utterance edits, for the bootstrap, interval and go/no-go tests.

A run scores a base language (eng) and a new one (spa, introduced at s1) on ``N`` test utterances
each of ``LENGTH`` characters; an utterance's edits are binomial draws around the CER asked for,
from a generator seeded by the run, so that every run is different noise around its rates and the
same bytes on every call. Its results matrix is the corpus-level CER of those edits, so results and
``utt_errors`` table agree as the recipe's would.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

STAGES = ["base", "s1"]
INTRODUCED = {"eng": "base", "spa": "s1"}
N = 40
LENGTH = 20
CONFIG = """seeds: {seeds}{probe_seeds}
plan: conf/plan.yaml
reference: lamer_replay
baseline: ft
expectations:
{expectations}
systems:
  frozen: {{train_on: none}}
  ft: {{method: conf/m.yaml}}
  lamer_replay: {{method: conf/m.yaml}}
  continue_old: {{method: conf/m.yaml, train_on: old, control: true}}
"""


def edits(cer: float, key: str) -> list[int]:
    """``N`` utterances' edits around ``cer`` percent, a fixed draw per ``key``."""
    rng = np.random.default_rng(sum(ord(c) * 31 ** i for i, c in enumerate(key)) % 2 ** 32)
    return [int(e) for e in rng.binomial(LENGTH, cer / 100.0, size=N)]


def run_files(rates: dict[str, dict[str, float]], seed: int | str, name: str, protocol: str = "retrained",
              utterances: bool = True, per: bool = False) -> dict[str, str]:
    """``{file name: text}`` of one run with CER ``rates[stage][lang]`` (both languages scored at
    every stage): its results JSON and, with ``utterances``, its utt_errors table; with ``per``,
    a PER at the same rates from draws of its own. The base row is the seed's (shared by its
    systems, as the recipe's base probe is), and so is a later rate equal to the base one (frozen,
    an untouched language)."""
    def draw(kind: str, stage: str, lang: str, cer: float) -> list[int]:
        same = cer == rates["base"][lang]
        return edits(cer, f"{kind}/{seed}/base/{lang}" if same else f"{kind}/{seed}/{name}/{stage}/{lang}")

    kinds = ("cer", "per") if per else ("cer",)
    counts = {kind: {stage: {lang: draw(kind, stage, lang, cer) for lang, cer in row.items()}
                     for stage, row in rates.items()} for kind in kinds}
    results = {"stages": STAGES, "introduced": INTRODUCED, "protocol": protocol,
               **{kind: {stage: {lang: 100.0 * sum(e) / (N * LENGTH) for lang, e in row.items()}
                         for stage, row in counts[kind].items()} for kind in kinds}}
    if per:
        results["g2p"] = "espeak-ng 1.52.0 (espeakng-loader 0.2.4)"
    files = {f"results_{protocol}.json": json.dumps(results)}
    if utterances:
        columns = {"cer": ("ref_chars", "char_edits"), "per": ("ref_phones", "phone_edits")}
        header = ["utt", "lang"] + [name for kind in kinds for name in
                                    (columns[kind][0], *(f"{columns[kind][1]}:{stage}" for stage in STAGES))]
        lines = ["\t".join(header)]
        for lang in INTRODUCED:
            lines += ["\t".join([f"{lang}_{i:02d}", lang, *(value for kind in kinds for value in
                                                         (str(LENGTH), *(str(counts[kind][stage][lang][i])
                                                                         for stage in STAGES)))])
                      for i in range(N)]
        files[f"utt_errors_{protocol}.tsv"] = "\n".join(lines) + "\n"
    return files


def write_recipe(directory: Path, seeds: list[int], systems: dict[str, tuple[float, float, float]],
                 expectations: str = "  - {check: lower, than: frozen, languages: new}",
                 utterances: bool = True, protocol: str = "retrained", probe_seeds: list[int] | None = None,
                 per: bool = False) -> Path:
    """A recipe with conf/ablation.yaml and runs under ``exp/ablation``: per system ``(eng, spa at
    base, spa after s1)`` CER, eng kept at its base value; the same rates in every unit (seed, or
    seed and probe seed), each run its own noise. Returns the recipe directory."""
    (directory / "conf").mkdir(parents=True)
    (directory / "conf" / "plan.yaml").write_text("{}\n")
    (directory / "conf" / "m.yaml").write_text("ssl_adapter: none\n")
    (directory / "conf" / "ablation.yaml").write_text(CONFIG.format(
        seeds=seeds, expectations=expectations, probe_seeds=f"\nprobe_seeds: {probe_seeds}" if probe_seeds else ""))
    keys = seeds if probe_seeds is None else [f"{seed}_probe{probe}" for seed in seeds for probe in probe_seeds]
    for seed in keys:
        for name, (eng, spa_base, spa_final) in systems.items():
            run = directory / "exp" / "ablation" / f"seed{seed}" / name
            run.mkdir(parents=True)
            rates = {"base": {"eng": eng, "spa": spa_base}, "s1": {"eng": eng, "spa": spa_final}}
            for file_name, text in run_files(rates, seed, name, protocol, utterances, per).items():
                (run / file_name).write_text(text)
    (directory / "trainable.json").write_text(json.dumps({"upstream": "base.pt", "systems": {}}))
    return directory
