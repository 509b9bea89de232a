"""Pre-train a base HuBERT from scratch in two iterations, as HuBERT does.

Iteration 1 learns MFCC k-means labels with every parameter of a fresh model (a preset in
the config, e.g. ``small``); iteration 2 clusters a layer of iteration 1's model and trains
on again from it. The result, ``<work_dir>/upstream.pt``, is an s3prl converted HuBERT
checkpoint that ``lamer.upstream``, ``S3PRLUpstream("hubert_local")`` and ESPnet's
S3prlFrontend load. Each step leaves a ``.done`` marker: a re-run skips finished steps and
an interrupted training resumes (``--resume true``).
"""
from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from lamer.ssl.features import checked, layer_extractor, mfcc_extractor, receptive_field
from lamer.ssl.methods import build_ssl_upstream
from lamer.ssl.stage_export import UPSTREAM_FILE
from lamer.ssl.targets import collect_items, prepare_targets
from lamer.yaml_io import load_yaml

logger = logging.getLogger(__name__)


def training_data_options(train_dump: Path, valid_dump: Path) -> list[str]:
    """ESPnet data options of ``ssl_train`` for dumps written by ``prepare_targets``."""
    options = []
    for split, dump in (("train", train_dump), ("valid", valid_dump)):
        options += [f"--{split}_data_path_and_name_and_type", f"{dump}/wav.scp,speech,sound",
                    f"--{split}_data_path_and_name_and_type", f"{dump}/labels,labels,text_int",
                    f"--{split}_shape_file", f"{dump}/speech_shape"]
    return options


def _done(path: Path) -> bool:
    return (path / ".done").is_file()


def _mark(path: Path) -> None:
    (path / ".done").write_text("", encoding="utf-8")


def make_dumps(work: Path, train_dirs: Sequence[Path], valid_dirs: Sequence[Path], upstream: str,
               layer: int | None, num_clusters: int, seed: int) -> tuple[Path, Path]:
    """Train and valid dumps of one iteration: MFCC (``layer`` None) or ``layer`` of ``upstream``."""
    train_dump, valid_dump = work / "dump_train", work / "dump_valid"
    if _done(train_dump) and _done(valid_dump):
        return train_dump, valid_dump
    loaded = build_ssl_upstream(upstream)
    if layer is None:
        extract, meta = mfcc_extractor(*receptive_field(loaded.model)), {"feature": "mfcc"}
    else:
        extract, meta = layer_extractor(loaded.model, layer, loaded.normalize), {"feature": "layer", "layer": layer}
    extract = checked(extract, loaded.model)
    prepare_targets(collect_items(train_dirs, out_dir=train_dump), extract, train_dump, meta, num_clusters, seed=seed)
    _mark(train_dump)
    prepare_targets(collect_items(valid_dirs, out_dir=valid_dump), extract, valid_dump, meta, codebook_dir=train_dump)
    _mark(valid_dump)
    return train_dump, valid_dump


def pretrain_base(train_dirs: Sequence[Path], valid_dirs: Sequence[Path], work_dir: Path, config: Path,
                  layer: int = 3, num_clusters: int = 100, seed: int = 0,
                  train_options: Sequence[str] = ()) -> Path:
    """Run both iterations; returns the path of the final s3prl checkpoint.

    ``config`` is an ``ssl_train`` config with ``ssl_adapter: none`` and a preset ``upstream``
    (conf/ssl/base_pretrain.yaml); ``train_options`` are extra ``ssl_train`` options for both
    iterations (e.g. ``--max_epoch 5``).
    """
    from lamer.ssl.task import SSLTask

    work_dir = Path(work_dir)
    final = work_dir / UPSTREAM_FILE
    if final.is_file():
        logger.info("base model already pre-trained: %s", final)
        return final
    upstream: str | None = None
    for iteration, feature_layer in ((1, None), (2, layer)):
        it_dir = work_dir / f"iter{iteration}"
        exp = it_dir / "exp"
        if not _done(exp):
            logger.info("Stage %d: %s targets", iteration, "MFCC" if feature_layer is None else f"layer {layer}")
            source = upstream or _config_upstream(config)
            train_dump, valid_dump = make_dumps(it_dir, train_dirs, valid_dirs, source, feature_layer, num_clusters,
                                                seed)
            logger.info("Stage %d: training", iteration)
            options = ["--config", str(config), *training_data_options(train_dump, valid_dump),
                       "--output_dir", str(exp), "--num_classes", str(num_clusters), "--resume", "true",
                       "--seed", str(seed), *train_options]
            if upstream:
                options += ["--upstream", upstream]
            SSLTask.main(cmd=options)
            _mark(exp)
        upstream = str(exp / UPSTREAM_FILE)
    tmp = final.with_name(f".{final.name}.tmp")
    shutil.copyfile(upstream, tmp)
    tmp.replace(final)
    return final


def _config_upstream(config: Path) -> str:
    data = load_yaml(config) or {}
    if not isinstance(data, dict) or not data.get("upstream"):
        raise ValueError(f"{config}: needs 'upstream:' (a preset such as small) for pre-training from scratch")
    if data.get("ssl_adapter") != "none":
        raise ValueError(f"{config}: pre-training trains every parameter: set 'ssl_adapter: none'")
    return str(data["upstream"])
