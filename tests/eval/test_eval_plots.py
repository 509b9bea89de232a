"""The figures are written as valid PNGs, and bad expert-usage input is refused by name."""
from __future__ import annotations

import struct

import pytest

from lamer.eval import EvalInputError
from lamer.eval.plots import plot_expert_usage, plot_lid_confusion, plot_over_stages

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def usage_for(expert_counts: list[int], languages: list[str]) -> dict:
    """Router statistics where language i prefers expert (i + layer) of each layer."""
    usage = {}
    for layer, count in enumerate(expert_counts):
        usage[str(layer)] = {}
        for i, lang in enumerate(languages):
            weights = [1.0] * count
            weights[(i + layer) % count] = 1.0 + count
            usage[str(layer)][lang] = [w / sum(weights) for w in weights]
    return usage


def test_expert_usage_with_per_layer_expert_counts(tmp_path):
    usage = usage_for([2, 2, 2, 2, 4, 4, 4, 4, 8, 8, 8, 8], ["eng", "fra", "deu", "spa"])
    plot_expert_usage(usage, tmp_path / "usage.png", languages=["eng", "fra", "deu", "spa"])
    width, height = png_size(tmp_path / "usage.png")
    assert width > height > 100


@pytest.mark.parametrize(
    "usage, message",
    [
        ({}, r"non-empty"),
        ({"first": {"eng": [1.0]}}, r"layer keys must be integers"),
        ({"0": {"eng": [0.5, 0.5]}, "1": {"fra": [0.5, 0.5]}},
         r"layer 1 has languages \['fra'\], layer 0 has \['eng'\]"),
        ({"0": {"eng": [0.5, 0.5], "fra": [1.0]}}, r"layer 0: every language needs the same expert count"),
        ({"0": {"eng": [0.5, float("nan")]}}, r"layer 0, 'eng': expected a non-empty list of finite weights"),
        ({"0": {"eng": ["a", "b"]}}, r"layer 0, 'eng': expected a list of numbers"),
        ({"0": {"eng": []}}, r"layer 0, 'eng': expected a non-empty list"),
    ],
)
def test_expert_usage_refuses_bad_input(tmp_path, usage, message):
    with pytest.raises(EvalInputError, match=message):
        plot_expert_usage(usage, tmp_path / "usage.png")
    assert not (tmp_path / "usage.png").exists()


def test_expert_usage_language_order_must_match(tmp_path):
    with pytest.raises(EvalInputError, match=r"languages \['deu', 'eng'\] given"):
        plot_expert_usage(usage_for([2], ["eng", "fra"]), tmp_path / "usage.png", languages=["eng", "deu"])


def test_over_stages_and_confusion_pngs(tmp_path):
    stages = ["base", "s1"]
    introduced = {"eng": "base", "spa": "s1"}
    matrix = {"base": {"eng": 20.0, "spa": 60.0}, "s1": {"eng": 25.0, "spa": 30.0}}
    plot_over_stages(matrix, stages, introduced, tmp_path / "cer.png", title="CER", ylabel="CER (%)",
                     average={"base": 20.0, "s1": 27.5})
    confusion = {"rows": ["eng", "spa"], "columns": ["eng", "spa", "unknown_tag", "no_tag"],
                 "counts": [[8, 1, 0, 1], [2, 7, 1, 0]]}
    plot_lid_confusion(confusion, tmp_path / "lid.png")
    for name in ("cer.png", "lid.png"):
        width, height = png_size(tmp_path / name)
        assert width > 100 and height > 100
