"""Every probe config of conf/probe builds an ESPnet ASR model on the Lamer frontend."""
from __future__ import annotations

from pathlib import Path

import pytest

CONF = Path(__file__).parents[2] / "conf" / "probe"


@pytest.mark.parametrize("config", sorted(CONF.glob("probe_*.yaml")), ids=lambda p: p.stem)
def test_probe_config_builds_a_ctc_model_on_all_layers(config, upstream, probe_data, tmp_path):
    from espnet2.tasks.asr import ASRTask

    from lamer.probe.asr_task import register_lamer_choices
    from lamer.probe.frontend import LamerS3prlFrontend
    from lamer.probe.lid_model import LidASRModel

    register_lamer_choices()
    args = ASRTask.get_parser().parse_args([
        "--config", str(config), "--output_dir", str(tmp_path),
        "--token_list", str(probe_data.tokens / "tokens.txt"),
        "--frontend_conf", f"path_or_url={upstream.checkpoint}",
        "--frontend_conf", f"adapters={upstream.trained_adapters}",
        "--preencoder_conf", "input_size=32",  # the tiny test upstream's width
    ])
    model = ASRTask.build_model(args)
    assert isinstance(model.frontend, LamerS3prlFrontend) and model.frontend.multilayer_feature
    assert model.frontend.manifest is not None
    assert model.decoder is None and model.ctc_weight == 1.0
    assert isinstance(model, LidASRModel) and model.lid_weight > 0
    assert model.languages == ["[eng]", "[fra]"]  # the probe data's tags
    assert args.token_type in ("char", "bpe")
