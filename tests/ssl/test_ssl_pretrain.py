"""Base-model pre-training from scratch in two iterations, saved as an s3prl checkpoint."""
from __future__ import annotations

from pathlib import Path

import torch
import yaml

from lamer.ssl.kmeans import load_codebook
from lamer.ssl.pretrain import pretrain_base
from lamer.upstream import open_upstream

REPO = Path(__file__).resolve().parents[2]


def test_pretrain_base_runs_mfcc_then_layer_iteration_and_saves_a_loadable_model(corpus, tmp_path):
    config = yaml.safe_load((REPO / "conf" / "ssl" / "base_pretrain.yaml").read_text())
    config.update(upstream="tiny", batch_size=4, max_epoch=1, head_conf={"final_dim": 16})
    conf_path = tmp_path / "pretrain.yaml"
    conf_path.write_text(yaml.safe_dump(config))
    options = ["--ngpu", "0", "--use_tensorboard", "false", "--use_matplotlib", "false", "--num_att_plot", "0"]
    final = pretrain_base([corpus["new"]], [corpus["eng"]], tmp_path / "base", conf_path, layer=2, num_clusters=8,
                          train_options=options)
    assert load_codebook(tmp_path / "base/iter1/dump_train")[1]["feature"] == "mfcc"
    assert load_codebook(tmp_path / "base/iter2/dump_train")[1] == {"feature": "layer", "layer": 2,
                                                                    "num_clusters": 8, "dim": 32}
    loaded = open_upstream(final)
    assert loaded.family == "s3prl_hubert"
    iter1 = open_upstream(tmp_path / "base/iter1/exp/upstream.pt").model.state_dict()
    trained = loaded.model.state_dict()
    assert any(not torch.equal(trained[k], iter1[k]) for k in trained), "iteration 2 did not train"
    assert pretrain_base([corpus["new"]], [corpus["eng"]], tmp_path / "base", conf_path) == final  # done: no-op
