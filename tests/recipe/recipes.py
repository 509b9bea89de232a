"""A throw-away recipe directory for recipe tests: the demo's scripts and shared configs, its
own corpus root, plan and base checkpoint."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

from lamer.upstream.presets import build_preset, get_shape, s3prl_configs, save_s3prl_checkpoint

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "egs2" / "mini_lamer" / "ssl1"
# The tiny plan of the recipe tests: a checkpoint base model on en, one stage on es, with replay.
TINY_PLAN = """corpus: commonvoice
base: [en]
stages:
  - {{name: s1, languages: [es]}}
base_model: {{checkpoint: {checkpoint}}}
method: conf/ssl/demo.yaml
replay: {{minutes: 0.3, strategy: random, share: 0.2}}
probe: conf/probe/probe_cpu_demo.yaml
protocols: [retrained]
seed: 0
"""


def make_recipe(directory: Path, plan: str, preset: str, scripts: tuple[str, ...] = ("ssl.sh",)) -> Path:
    """Fill ``directory`` as a recipe; ``plan`` is a template with ``{checkpoint}``, filled with a
    random-weight ``preset`` upstream saved as an s3prl checkpoint (quoted: any path works). Returns
    ``directory``."""
    for name in ("path.sh", "cmd.sh", *scripts):
        (directory / name).symlink_to(DEMO / name)
    (directory / "conf").mkdir()
    for name in ("ssl", "probe", "lamer"):
        (directory / "conf" / name).symlink_to(ROOT / "conf" / name)
    (directory / "db.sh").write_text(f"COMMONVOICE={shlex.quote(str(directory / 'corpus' / 'commonvoice'))}\n",
                                     encoding="utf-8")
    checkpoint = directory / f"{preset}.pt"
    save_s3prl_checkpoint(build_preset(preset), *s3prl_configs(get_shape(preset)), checkpoint)
    (directory / "conf" / "plan.yaml").write_text(plan.format(checkpoint=json.dumps(str(checkpoint))),
                                                  encoding="utf-8")
    return directory
