"""The demo's base-model rebuild (egs2/mini_lamer/ssl1/local/rebuild_base_model.sh) on a tiny
setting: real synthesis, data preparation, two-iteration pre-training and export; the printed
SHA-256 is the file's and its sidecar's, a plan that names it imports the file, and a re-run
skips finished work and rebuilds the same bytes."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from lamer.checksum import file_sha256
from lamer.recipe.plan import BaseModel, load_plan
from tests.recipe.recipes import DEMO, ROOT, TINY_PLAN

SCRIPT = "local/rebuild_base_model.sh"
TINY = ["--pretrain_config", "conf/tiny.yaml", "--langs", "en,fr", "--utts_per_lang", "12", "--num_clusters", "8",
        "--layer", "2", "--pretrain_opts", "--use_tensorboard false --use_matplotlib false --num_att_plot 0"]


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    """A recipe dir with the demo's scripts and a tiny pre-training config."""
    for name in ("path.sh", "cmd.sh"):
        (tmp_path / name).symlink_to(DEMO / name)
    (tmp_path / "local").mkdir()
    (tmp_path / SCRIPT).symlink_to(DEMO / SCRIPT)
    config = yaml.safe_load((ROOT / "conf" / "ssl" / "base_pretrain.yaml").read_text(encoding="utf-8"))
    config.update(upstream="tiny", batch_size=4, max_epoch=1, head_conf={"final_dim": 16})
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "tiny.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return tmp_path


def rebuild(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["./" + SCRIPT, *args], cwd=recipe, capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("args, message", [
    (["--pretrain_config", "conf/missing.yaml"], "--pretrain_config conf/missing.yaml: no such file"),
    (["--pretrain_config", "conf/tiny.yaml", "--langs", "en,xx"], "unknown language key xx"),
])
def test_bad_options_stop_before_any_work(recipe, args, message):
    result = rebuild(recipe, *args)
    assert result.returncode != 0 and message in result.stderr
    assert not (recipe / "exp").exists() and not (recipe / "base_model").exists()


@pytest.mark.slow
def test_one_command_rebuilds_the_checkpoint_and_its_sha256(recipe):
    first = rebuild(recipe, *TINY)
    assert first.returncode == 0, first.stdout + first.stderr
    checkpoint = recipe / "base_model" / "upstream.pt"
    digest = first.stdout.splitlines()[-1]
    assert digest == file_sha256(checkpoint)
    assert (recipe / "base_model" / "upstream.pt.sha256").read_text() == f"{digest}  upstream.pt\n"
    if shutil.which("sha256sum"):
        subprocess.run(["sha256sum", "--check", "--status", "upstream.pt.sha256"], cwd=checkpoint.parent, check=True)
    command, commit = (recipe / "base_model" / "rebuild.txt").read_text().splitlines()
    assert command.startswith(f"./{SCRIPT} --pretrain_config conf/tiny.yaml") and commit.startswith("# at lamer commit")
    for log in ("synth", "data", "pretrain", "export"):
        assert (recipe / "exp" / "base_model_rebuild" / "logs" / f"{log}.log").is_file()

    # a plan names it relative to the recipe dir, with its hash
    plan = TINY_PLAN.format(checkpoint="base_model/upstream.pt").replace(
        "{checkpoint: base_model/upstream.pt}", f"{{checkpoint: base_model/upstream.pt, sha256: {digest}}}")
    (recipe / "conf" / "plan.yaml").write_text(plan, encoding="utf-8")
    (recipe / "conf" / "ssl").symlink_to(ROOT / "conf" / "ssl")
    (recipe / "conf" / "probe").symlink_to(ROOT / "conf" / "probe")
    assert load_plan(recipe / "conf" / "plan.yaml").base_model == BaseModel(checkpoint=str(checkpoint), sha256=digest)

    again = rebuild(recipe, *TINY)  # finished steps are skipped; the export is written again, byte for byte
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.splitlines()[-1] == digest and file_sha256(checkpoint) == digest
    assert "already pre-trained" in (recipe / "exp" / "base_model_rebuild" / "logs" / "pretrain.log").read_text()
