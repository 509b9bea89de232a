"""ESPnet's loaders under lamer.runtime.load_guard: no pickle runs, no silent random weights, atomic saves.

Each hostile file is a real torch pickle whose model entry would run ``touch MARKER``; the
tests go through ESPnet's own functions and our entry points (asr_train, asr_inference).
"""
from __future__ import annotations

import inspect
import re
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from lamer.runtime.load_guard import WeightsMismatch, espnet_safe_loading
from lamer.upstream.safe_checkpoint import RefusedCheckpoint
from tests.probe.fixtures import train_args
from tests.probe.hostile import write_hostile_checkpoint

DECODE_CONFIG = Path(__file__).parents[2] / "conf" / "probe" / "decode_ctc.yaml"


@pytest.fixture(scope="module")
def probe(tmp_path_factory, upstream, probe_data) -> Path:
    """A probe trained for one epoch by lamer.bin.asr_train (its output directory)."""
    from lamer.bin import asr_train

    out = tmp_path_factory.mktemp("safe_probe") / "exp"
    assert asr_train.main(train_args(probe_data, upstream.checkpoint, out) + ["--max_epoch", "1"]) == 0
    return out


def decode(probe_dir: Path, model_file: Path, data: Path, out: Path, decoding: str) -> int:
    from lamer.bin import asr_inference

    return asr_inference.main(["--config", str(DECODE_CONFIG), "--ngpu", "0", "--decoding", decoding,
                               "--asr_train_config", str(probe_dir / "config.yaml"),
                               "--asr_model_file", str(model_file),
                               "--data_path_and_name_and_type", f"{data}/wav.scp,speech,sound",
                               "--output_dir", str(out)])


def error_line(err: str, prog: str) -> str:
    """The one error line of ``prog``; the output holds no traceback."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith(f"{prog}: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_espnet_loaders_keep_the_shape_we_wrap():
    """Fails when an ESPnet upgrade moves a loader or stops reading through ``torch.load``."""
    from espnet2.bin import asr_inference
    from espnet2.main_funcs import average_nbest_models
    from espnet2.tasks import abs_task
    from espnet2.tasks.abs_task import AbsTask
    from espnet2.tasks.asr import ASRTask
    from espnet2.torch_utils import load_pretrained_model
    from espnet2.train.trainer import Trainer

    assert list(inspect.signature(Trainer.resume).parameters)[:6] == [
        "checkpoint", "model", "reporter", "optimizers", "schedulers", "scaler"]
    assert "cls.resume(" in inspect.getsource(Trainer.run)
    assert abs_task.load_pretrained_model is load_pretrained_model.load_pretrained_model
    assert list(inspect.signature(abs_task.load_pretrained_model).parameters) == [
        "init_param", "model", "ignore_init_mismatch", "map_location"]
    assert "load_pretrained_model(" in inspect.getsource(AbsTask.main_worker)
    assert list(inspect.signature(AbsTask.build_model_from_file).parameters) == ["config_file", "model_file", "device"]
    assert "build_model_from_file" not in ASRTask.__dict__
    assert "build_model_from_file(" in inspect.getsource(asr_inference.Speech2Text.__init__)
    for function in (Trainer.resume, load_pretrained_model.load_pretrained_model, AbsTask.build_model_from_file,
                     average_nbest_models.average_nbest_models):
        assert "torch.load(" in inspect.getsource(function), function


def test_espnet_loaders_refuse_a_pickle_and_run_nothing(tmp_path):
    """ESPnet's own functions, called as ESPnet calls them, under the guard."""
    from espnet2.main_funcs.average_nbest_models import average_nbest_models
    from espnet2.tasks import abs_task
    from espnet2.torch_utils.load_pretrained_model import load_pretrained_model
    from espnet2.train.reporter import Reporter
    from espnet2.train.trainer import Trainer

    marker = tmp_path / "marker"
    evil = write_hostile_checkpoint(tmp_path / "exp" / "checkpoint.pth", marker)
    model = nn.Linear(2, 2)
    reporter = Reporter()  # two epochs of valid loss: the end of training averages 1epoch.pth and 2epoch.pth
    for epoch in (1, 2):
        reporter.set_epoch(epoch)
        with reporter.observe("valid", epoch) as sub:
            sub.register({"loss": float(epoch)})
    torch.save(model.state_dict(), tmp_path / "exp" / "2epoch.pth")
    shutil.copyfile(evil, tmp_path / "exp" / "1epoch.pth")
    original_load = torch.load
    with espnet_safe_loading():
        calls = {
            "resume": lambda: Trainer.resume(checkpoint=evil, model=model, reporter=Reporter(), optimizers=[],
                                             schedulers=[], scaler=None),
            "init_param (wrapped)": lambda: abs_task.load_pretrained_model(
                init_param=str(evil), model=model, ignore_init_mismatch=False),
            "init_param (ESPnet's)": lambda: load_pretrained_model(str(evil), model, False),
            "model averaging": lambda: average_nbest_models(evil.parent, reporter, [("valid", "loss", "min")], 2),
        }
        for name, call in calls.items():
            with pytest.raises(RefusedCheckpoint, match=r"/exp/\w+\.pth: refused to load: it holds a pickled "
                                                        r"'posix\.system'.*allow-list of ESPnet checkpoint"):
                call()
            assert not marker.exists(), name
    assert torch.load is original_load


def test_guard_restores_espnet_and_torch_and_nests():
    from espnet2.tasks import abs_task
    from espnet2.tasks.abs_task import AbsTask
    from espnet2.train.trainer import Trainer

    before = (torch.load, torch.save, Trainer.__dict__["resume"], AbsTask.__dict__["build_model_from_file"],
              abs_task.load_pretrained_model)
    with espnet_safe_loading():
        inner = torch.load
        with espnet_safe_loading():
            assert torch.load is inner
        assert torch.load is inner is not before[0]
    assert (torch.load, torch.save, Trainer.__dict__["resume"], AbsTask.__dict__["build_model_from_file"],
            abs_task.load_pretrained_model) == before


class FailsHalfway:
    """Pickles a large tensor, then raises: a save that dies after writing part of the file."""

    def __reduce__(self):
        raise OSError("disk full")


def test_saves_are_atomic(tmp_path):
    target = tmp_path / "checkpoint.pth"
    with espnet_safe_loading():
        torch.save({"model": {"w": torch.ones(3)}}, target)
        with pytest.raises(OSError, match="disk full"):
            torch.save({"model": {"w": torch.zeros(100_000)}, "later": FailsHalfway()}, target)
        assert torch.equal(torch.load(target, weights_only=True)["model"]["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pth"]


def test_frontend_checkpoint_with_a_pickle_is_refused(tmp_path):
    """s3prl reads the frontend's path_or_url with torch.load: the guard covers it too."""
    from lamer.probe.frontend import LamerS3prlFrontend

    marker = tmp_path / "marker"
    evil = write_hostile_checkpoint(tmp_path / "base.pt", marker)
    with espnet_safe_loading(), pytest.raises(RefusedCheckpoint, match=re.escape(f"{evil}: refused to load")):
        LamerS3prlFrontend(path_or_url=str(evil))
    assert not marker.exists()


def test_asr_train_resumes_from_its_own_checkpoint(probe, upstream, probe_data, tmp_path, caplog):
    """checkpoint.pth as ESPnet writes it (reporter, optimizer states) loads weights-only."""
    from lamer.bin import asr_train

    out = tmp_path / "exp"
    shutil.copytree(probe, out, symlinks=True)
    with caplog.at_level("INFO"):
        rc = asr_train.main(train_args(probe_data, upstream.checkpoint, out) + ["--max_epoch", "2", "--resume", "true"])
    assert rc == 0
    assert any("The training was resumed using" in r.getMessage() for r in caplog.records)
    assert (out / "2epoch.pth").is_file()


def test_asr_train_refuses_a_pickled_init_param(upstream, probe_data, tmp_path, capsys):
    from lamer.bin import asr_train

    marker = tmp_path / "marker"
    evil = write_hostile_checkpoint(tmp_path / "init.pth", marker)
    args = train_args(probe_data, upstream.checkpoint, tmp_path / "exp") + ["--init_param", str(evil)]
    assert asr_train.main(args) == 1
    assert not marker.exists()
    assert f"{evil}: refused to load" in error_line(capsys.readouterr().err, "asr_train")


@pytest.mark.parametrize("decoding", ["greedy", "beam"])
def test_decoding_refuses_a_pickled_model_file(probe, probe_data, tmp_path, capsys, decoding):
    marker = tmp_path / "marker"
    evil = write_hostile_checkpoint(tmp_path / "valid.loss.best.pth", marker)
    assert decode(probe, evil, probe_data.dev, tmp_path / "out", decoding) == 1
    assert not marker.exists()
    line = error_line(capsys.readouterr().err, "asr_inference")
    assert f"{evil}: refused to load: it holds a pickled 'posix.system'" in line


@pytest.mark.parametrize("decoding", ["greedy", "beam"])
def test_decoding_a_file_without_the_probe_weights_lists_the_keys(probe, probe_data, tmp_path, capsys, decoding):
    state = torch.load(probe / "1epoch.pth", weights_only=True)
    del state["ctc.ctc_lo.weight"]
    state["decoder.embed.weight"] = torch.zeros(2)
    torch.save(state, tmp_path / "partial.pth")
    assert decode(probe, tmp_path / "partial.pth", probe_data.dev, tmp_path / "out", decoding) == 1
    line = error_line(capsys.readouterr().err, "asr_inference")
    assert "partial.pth does not hold the weights" in line
    assert "1 missing: ctc.ctc_lo.weight" in line and "1 unexpected: decoder.embed.weight" in line
    assert not (tmp_path / "out" / "1best_recog" / "text").exists()


def test_decoding_the_trained_probe_still_works(probe, probe_data, tmp_path):
    """The probe file lacks the frozen upstream (by design): it loads strictly all the same."""
    assert decode(probe, probe / "1epoch.pth", probe_data.dev, tmp_path / "out", "greedy") == 0
    assert (tmp_path / "out" / "1best_recog" / "text").is_file()


def test_init_param_must_hold_the_target_weights_unless_exclusions_are_named(probe, tmp_path):
    from espnet2.tasks import abs_task
    from espnet2.tasks.asr import ASRTask

    from lamer.probe.asr_task import register_lamer_choices

    register_lamer_choices()
    model, _ = ASRTask.build_model_from_file(probe / "config.yaml", None, "cpu")
    trained = probe / "1epoch.pth"
    state = torch.load(trained, weights_only=True)
    del state["encoder.encoders.0.feed_forward.w_1.weight"]
    torch.save(state, tmp_path / "partial.pth")
    foreign = tmp_path / "foreign.pth"
    torch.save({"head.proj.weight": torch.zeros(2, 2)}, foreign)

    def load(init_param: str) -> None:
        abs_task.load_pretrained_model(init_param=init_param, model=model, ignore_init_mismatch=False)

    with espnet_safe_loading():
        load(str(trained))
        load(f"{trained}:encoder:encoder")
        load(f"{tmp_path / 'partial.pth'}:::encoder.encoders.0.feed_forward")  # an explicit exclusion
        with pytest.raises(WeightsMismatch, match=r"partial\.pth does not hold .*\(1 missing: "
                                                  r"encoder\.encoders\.0\.feed_forward\.w_1\.weight\)"):
            load(str(tmp_path / "partial.pth"))
        with pytest.raises(WeightsMismatch, match=r"foreign\.pth does not hold .*missing: .*ctc\.ctc_lo\.weight"
                                                  r".*1 unexpected: head\.proj\.weight"):
            load(str(foreign))
        with pytest.raises(WeightsMismatch, match=r"\d+ missing: "):  # ESPnet's FILE:SRC:DST: drops every key
            load(f"{trained}:encoder:encoder:")
