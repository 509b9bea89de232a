"""Shared inputs of the probe tests (and of the runtime guard and expert-usage tests): a tiny upstream checkpoint,
a tone corpus in probe form, and one probe trained on it (built once per session)."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from lamer.adapters import LamerConfig, apply_lamer, save_adapters
from lamer.upstream.presets import build_preset, get_shape, s3prl_configs, save_s3prl_checkpoint
from tests.adapters.models import randomize_adapters
from tests.probe.corpus import write_tone_corpus

HERE = Path(__file__).parent
PROBE_CONFIG = HERE / "probe_tiny.yaml"
LANGS = ["eng", "fra"]


@dataclass(frozen=True)
class Upstream:
    checkpoint: Path
    zero_adapters: Path      # freshly patched: B = 0, the model equals the base
    trained_adapters: Path   # non-zero adapters, routers told about eng and fra
    unlabelled_adapters: Path  # non-zero adapters, no language list
    foreign_adapters: Path   # adapters of another base model


def _save(model, config: LamerConfig, directory: Path, seed: int | None) -> Path:
    apply_lamer(model, config)
    if seed is not None:
        randomize_adapters(model, seed=seed)
    return save_adapters(model, directory)


@pytest.fixture(scope="session")
def upstream(tmp_path_factory) -> Upstream:
    root = tmp_path_factory.mktemp("upstream")
    task_cfg, model_cfg = s3prl_configs(get_shape("tiny"))
    save_s3prl_checkpoint(build_preset("tiny"), task_cfg, model_cfg, str(root / "base.pt"))
    labelled = LamerConfig(allocation="groups:2,4,8", languages=LANGS)
    unlabelled = LamerConfig(allocation="groups:2,4,8")
    return Upstream(
        checkpoint=root / "base.pt",
        zero_adapters=_save(build_preset("tiny"), labelled, root / "zero", seed=None),
        trained_adapters=_save(build_preset("tiny"), labelled, root / "trained", seed=1),
        unlabelled_adapters=_save(build_preset("tiny"), unlabelled, root / "unlabelled", seed=2),
        foreign_adapters=_save(build_preset("tiny", seed=5), labelled, root / "foreign", seed=1),
    )


@dataclass(frozen=True)
class ProbeData:
    train: Path
    dev: Path
    tokens: Path
    source_dirs: dict[str, dict[str, Path]]


@pytest.fixture(scope="session")
def probe_data(tmp_path_factory) -> ProbeData:
    from lamer.probe.inputs import write_probe_dir, write_token_dir

    root = tmp_path_factory.mktemp("tones")
    sources = {"train": write_tone_corpus(root, "train", 24, seed=0), "dev": write_tone_corpus(root, "dev", 6, seed=1)}
    train = root / "probe" / "train"
    write_probe_dir(list(sources["train"].values()), train)
    dev = root / "probe" / "dev"
    write_probe_dir(list(sources["dev"].values()), dev)
    write_token_dir(train / "text", root / "tokens" / "char", "char")
    return ProbeData(train=train, dev=dev, tokens=root / "tokens" / "char", source_dirs=sources)


def data_args(data: ProbeData) -> list[str]:
    """asr_train arguments of the tone corpus: its tokens, train and valid sets."""
    args = ["--use_preprocessor", "true", "--token_type", "char",
            "--token_list", str(data.tokens / "tokens.txt"),
            "--non_linguistic_symbols", str(data.tokens / "nlsyms.txt")]
    for split, directory in (("train", data.train), ("valid", data.dev)):
        args += [f"--{split}_data_path_and_name_and_type", f"{directory}/wav.scp,speech,sound",
                 f"--{split}_data_path_and_name_and_type", f"{directory}/text,text,text",
                 f"--{split}_shape_file", f"{directory}/speech_shape"]
    return args


def train_args(data: ProbeData, checkpoint: Path, out: Path, adapters: Path | None = None) -> list[str]:
    """asr_train arguments of a tiny probe on the tone corpus."""
    args = ["--config", str(PROBE_CONFIG), "--ngpu", "0", "--seed", "0", "--output_dir", str(out),
            "--frontend_conf", f"path_or_url={checkpoint}", *data_args(data)]
    if adapters is not None:
        args += ["--frontend_conf", f"adapters={adapters}"]
    return args


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


EPOCH_RESULT = re.compile(r"^(\d+)epoch results: \[train\].*?\bloss=([0-9.e+-]+)")


def train_probe(args: list[str]) -> dict[int, float]:
    """Run lamer.bin.asr_train in this process; returns ESPnet's train loss per epoch."""
    from lamer.bin import asr_train

    root = logging.getLogger()
    handler, level = _Records(), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        asr_train.main(args)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    return {int(m.group(1)): float(m.group(2)) for m in map(EPOCH_RESULT.match, handler.messages) if m}


@dataclass(frozen=True)
class TrainedProbe:
    directory: Path
    losses: dict[int, float]

    @property
    def config(self) -> Path:
        return self.directory / "config.yaml"

    @property
    def model(self) -> Path:
        return decoded_model(self.directory)


def decoded_model(directory: Path) -> Path:
    """The model of a trained probe that the recipe decodes (ESPnet's average under its config's
    first criterion): a test decoding it also checks that ESPnet wrote it."""
    from lamer.probe.model_file import probe_model_name

    return directory / probe_model_name(directory / "config.yaml")


@pytest.fixture(scope="session")
def base_probe(tmp_path_factory, upstream: Upstream, probe_data: ProbeData) -> TrainedProbe:
    """The probe of the ``base`` stage: trained on the plain frozen upstream."""
    out = tmp_path_factory.mktemp("probe") / "base"
    losses = train_probe(train_args(probe_data, upstream.checkpoint, out))
    return TrainedProbe(out, losses)


@pytest.fixture(scope="session")
def lid_probe(tmp_path_factory, upstream: Upstream, probe_data: ProbeData) -> TrainedProbe:
    """A base-stage probe with the utterance-level language classifier (``model: lamer_lid``)."""
    out = tmp_path_factory.mktemp("probe") / "lid"
    losses = train_probe(train_args(probe_data, upstream.checkpoint, out)
                         + ["--model", "lamer_lid", "--model_conf", "lid_weight=0.5", "--max_epoch", "3"])
    return TrainedProbe(out, losses)
