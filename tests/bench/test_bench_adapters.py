"""``python -m lamer.bench adapters`` on a tiny model: the JSON it prints and its --device option."""
from __future__ import annotations

import json

import pytest
import torch

from lamer.bench import adapters

SMALL = ["--json", "--preset", "tiny", "--batch", "1", "--seconds", "0.5", "--repeats", "1", "--experts", "2"]


def run(capsys, *options: str) -> dict:
    assert adapters.main([*SMALL, *options]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_cpu_run_reports_both_ratios(capsys):
    result = run(capsys)
    assert result["device"] == "cpu"
    assert result["patched_over_base"] > 0 and result["batched_over_loop"] > 0
    assert result["base_forward_s"] > 0 and result["bank_batched_ms"] > 0
    assert "cuda_max_memory_allocated_mb" not in result


def test_cuda_runs_on_the_gpu_or_fails_naming_why(capsys):
    if torch.cuda.is_available():
        result = run(capsys, "--device", "cuda")
        assert result["device"] == "cuda" and result["gpu"]
        assert result["cuda_max_memory_allocated_mb"] > 0
        return
    with pytest.raises(SystemExit) as err:
        adapters.main([*SMALL, "--device", "cuda"])
    assert "--device cuda" in str(err.value)
    assert ("CPU build" in str(err.value)) == (torch.version.cuda is None)


@pytest.mark.parametrize("name", ["tpu", "mps", "cuda:7x"])
def test_an_unknown_device_is_refused_by_name(name):
    with pytest.raises(SystemExit, match=f"--device {name}: expected cpu or cuda"):
        adapters.resolve_device(name)
