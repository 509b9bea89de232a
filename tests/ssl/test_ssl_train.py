"""ESPnet training of the SSL task: learning, frozen base, resume after a kill, distributed ranks."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file

from lamer.adapters import adapter_parameters, load_adapters
from lamer.ssl.methods import build_ssl_upstream
from lamer.ssl.task import SSLTask
from tests.ssl.conftest import NUM_CLASSES
from tests.ssl.helpers import training_args

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 3
STEPS_PER_EPOCH = 8  # 24 new utterances, 3 per batch of 4 (one replay utterance each)


def lamer_args(dump: Path, out: Path, *extra: str) -> list[str]:
    return training_args(dump, out, "--num_classes", str(NUM_CLASSES), "--batch_size", "4",
                         "--ssl_adapter", "lamer", "--ssl_adapter_preset", "conf/lamer/lamer_base.yaml",
                         "--optim", "adam", "--optim_conf", "lr=0.01", "--seed", "3",
                         "--replay_utt2lang", f"{dump}/replay_utt2lang", "--replay_share", "0.25",
                         "--head_conf", "final_dim=16", "--keep_nbest_models", "1", *extra)


def whole_set(dump: Path) -> dict[str, torch.Tensor]:
    """Every utterance of the dump as one padded batch."""
    wavs = {u: p for u, p in (line.split(" ", 1) for line in (dump / "wav.scp").read_text().splitlines())}
    labels = {u: list(map(int, rest.split())) for u, rest in
              (line.split(" ", 1) for line in (dump / "labels").read_text().splitlines())}
    audio = [sf.read(wavs[u], dtype="float32")[0] for u in sorted(wavs)]
    lab = [labels[u] for u in sorted(wavs)]
    speech = torch.zeros(len(audio), max(map(len, audio)))
    targets = torch.full((len(lab), max(map(len, lab))), -1, dtype=torch.long)
    for i, (a, t) in enumerate(zip(audio, lab)):
        speech[i, :len(a)], targets[i, :len(t)] = torch.from_numpy(a), torch.tensor(t)
    return {"speech": speech, "speech_lengths": torch.tensor([len(a) for a in audio]),
            "labels": targets, "labels_lengths": torch.tensor([len(t) for t in lab])}


def masked_loss(model, batch) -> float:
    """Masked-prediction loss of the whole set, same masks every call, no dropout."""
    model.eval()
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(0)
        _, stats, _ = model(**batch)
    return float(stats["loss_masked"])


def build(args_list: list[str]):
    args = SSLTask.get_parser().parse_args(args_list)
    torch.manual_seed(args.seed)
    return SSLTask.build_model(args)


@pytest.fixture(scope="module")
def run_a(dump, tmp_path_factory) -> tuple[list[str], Path]:
    out = tmp_path_factory.mktemp("run_a")
    args = lamer_args(dump, out, "--max_epoch", str(EPOCHS))
    SSLTask.main(cmd=args)
    return args, out


def test_training_lowers_loss_keeps_base_and_exports_adapters(run_a, dump):
    args, out = run_a
    initial = build(args)
    trained = build(args)
    trained.load_state_dict(torch.load(out / "latest.pth", weights_only=True))
    batch = whole_set(dump)
    before, after = masked_loss(initial, batch), masked_loss(trained, batch)
    assert after < before - 0.1, (before, after)

    adapter_ids = {id(p) for p in adapter_parameters(trained.encoder.upstream).values()}
    initial_base = {n: p for n, p in initial.encoder.upstream.named_parameters()}
    for name, param in trained.encoder.upstream.named_parameters():
        if id(param) not in adapter_ids:
            assert torch.equal(param, initial_base[name]), f"frozen base parameter {name} changed"
    changed = [n for n, p in adapter_parameters(trained.encoder.upstream).items()
               if not torch.equal(p, adapter_parameters(initial.encoder.upstream)[n])]
    assert any(".lora_B" in n for n in changed) and any(".gate." in n for n in changed)

    fresh = build_ssl_upstream("tiny").model
    load_adapters(fresh, out / "adapters")  # checks the base fingerprint too
    for name, param in adapter_parameters(fresh).items():
        assert torch.equal(param, adapter_parameters(trained.encoder.upstream)[name])


def _harness(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.ssl.harness", *args], cwd=REPO,
                            env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_run_killed_mid_epoch_and_resumed_ends_like_uninterrupted(run_a, dump, tmp_path):
    args_a, out_a = run_a
    out = tmp_path / "killed"
    kill_step = STEPS_PER_EPOCH + 3  # inside epoch 2
    proc = _harness("--kill_at_step", str(kill_step), "--", *lamer_args(dump, out, "--max_epoch", str(EPOCHS)))
    log = proc.communicate(timeout=240)[0].decode(errors="replace")
    assert proc.returncode == -9, log[-3000:]
    assert (out / "1epoch.pth").exists() and not (out / "2epoch.pth").exists()

    SSLTask.main(cmd=lamer_args(dump, out, "--max_epoch", str(EPOCHS), "--resume", "true"))
    resumed = torch.load(out / "latest.pth", weights_only=True)
    uninterrupted = torch.load(out_a / "latest.pth", weights_only=True)
    assert resumed.keys() == uninterrupted.keys()
    for key in uninterrupted:
        assert torch.equal(resumed[key], uninterrupted[key]), key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_distributed_run_ends_with_identical_parameters(dump, tmp_path):
    port = str(_free_port())
    out = tmp_path / "ddp"
    args = lamer_args(dump, out, "--max_epoch", "1", "--multiprocessing_distributed", "false",
                      "--dist_backend", "gloo")
    procs = [_harness("--dump_params", str(tmp_path / f"rank{rank}.safetensors"), "--", *args,
                      env={"RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank),
                           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port})
             for rank in (0, 1)]
    logs = [p.communicate(timeout=300)[0].decode(errors="replace") for p in procs]
    for proc, log in zip(procs, logs):
        assert proc.returncode == 0, log[-3000:]
    rank0, rank1 = (load_file(str(tmp_path / f"rank{r}.safetensors")) for r in (0, 1))
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    initial = build(args)
    moved = [k for k, v in initial.named_parameters() if k in rank0 and not torch.equal(v, rank0[k])]
    assert any("lora_B" in k for k in moved), "distributed training changed no adapter"
    assert (out / "adapters" / "manifest.json").exists()
    assert np.isfinite(float(torch.load(out / "latest.pth", weights_only=True)
                             ["head.final_proj.weight"].sum()))


def test_next_stage_continues_adapters_and_adds_frozen_experts(run_a, dump, tmp_path):
    _, out_a = run_a
    out = tmp_path / "stage2"
    SSLTask.main(cmd=lamer_args(dump, out, "--max_epoch", "1", "--init_adapters", str(out_a / "adapters"),
                                "--add_experts", "1", "--freeze_previous_experts", "true",
                                "--stage_info", "stage=2"))
    previous, grown = build_ssl_upstream("tiny").model, build_ssl_upstream("tiny").model
    load_adapters(previous, out_a / "adapters")
    manifest = load_adapters(grown, out / "adapters")
    assert manifest["extra"] == {"stage": 2}
    old, new = adapter_parameters(previous), adapter_parameters(grown)
    assert manifest["experts_per_layer"] == [c + 1 for c in read_counts(previous)]
    for name, param in old.items():
        if ".shared." in name:
            assert torch.equal(new[name], param), name
        elif name.endswith("routed.lora_A"):
            assert torch.equal(new[name][:param.shape[0]], param), name
            assert not torch.equal(new[name][param.shape[0]:], torch.zeros_like(new[name][param.shape[0]:]))
        elif name.endswith("routed.lora_B"):
            assert torch.equal(new[name][:, :param.shape[1]], param), name
    assert any(new[n].shape[1] > p.shape[1] and new[n][:, p.shape[1]:].abs().sum() > 0
               for n, p in old.items() if n.endswith("routed.lora_B")), "the new experts did not train"


def read_counts(model) -> list[int]:
    from lamer.adapters import patch_state

    return list(patch_state(model).counts)
