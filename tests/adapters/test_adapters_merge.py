import pytest

from lamer.adapters import LamerConfig, LamerLinear, apply_lamer, merge_adapters, routing_languages
from lamer.upstream.presets import build_preset
from tests.adapters.models import frozen_preset, max_diff, outputs, randomize_adapters


@pytest.mark.parametrize("family", ["s3prl_hubert", "hf_hubert"])
@pytest.mark.parametrize("config", [
    LamerConfig(allocation="uniform:1", shared_experts=0),           # one LoRA, no router
    LamerConfig(allocation="uniform:1", shared_experts=1),           # one shared expert
    LamerConfig(allocation="uniform:2", shared_experts=1),           # shared + one routed, learned balance
])
def test_single_expert_layers_merge_exactly(family, config, batch):
    model = frozen_preset("tiny", family)
    apply_lamer(model, config)
    randomize_adapters(model, scale=0.2)
    expected = outputs(model, batch)
    merge_adapters(model)
    assert not any(isinstance(m, LamerLinear) for m in model.modules())
    plain = build_preset("tiny", family)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in plain.parameters())
    assert max_diff(expected, outputs(model, batch)) < 1e-5


def test_language_routing_merges_exactly_for_the_chosen_language(batch):
    config = LamerConfig(allocation="groups:2,4", router="language", languages=["eng", "fra", "deu"])
    model = frozen_preset("tiny", "s3prl_hubert")
    apply_lamer(model, config)
    randomize_adapters(model, scale=0.3)
    with routing_languages(model, ["fra", "fra"]):
        fra = outputs(model, batch)
    with routing_languages(model, ["deu", "deu"]):
        deu = outputs(model, batch)
    assert max_diff(fra, deu) > 1e-3  # the language really picks different experts
    merge_adapters(model, language="fra")
    assert max_diff(fra, outputs(model, batch)) < 1e-5


@pytest.mark.parametrize("language", ["fra", None])
def test_oracle_routing_merges_exactly_with_or_without_the_language(language, batch):
    # without it (the probe's case) the oracle's uniform mix is what runs, and what merges
    config = LamerConfig(allocation="groups:2,4", router="oracle", load_balance_weight=0.0,
                         languages=["eng", "fra", "deu"])
    model = frozen_preset("tiny", "s3prl_hubert")
    apply_lamer(model, config)
    randomize_adapters(model, scale=0.3)
    with routing_languages(model, [language] * 2 if language else None):
        expected = outputs(model, batch)
    merge_adapters(model, language=language)
    assert max_diff(expected, outputs(model, batch)) < 1e-5


def test_per_frame_routing_refuses_to_merge_and_changes_nothing():
    model = build_preset("tiny", "hf_hubert")
    apply_lamer(model, LamerConfig(allocation="uniform:3", router="soft"))
    with pytest.raises(ValueError,
                       match="cannot merge exactly: layers 0:feed_forward.intermediate_dense.*soft routing"):
        merge_adapters(model)
    assert isinstance(model.encoder.layers[0].feed_forward.intermediate_dense, LamerLinear)


def test_language_routing_needs_the_language_to_merge():
    model = build_preset("tiny", "hf_hubert")
    apply_lamer(model, LamerConfig(allocation="uniform:3", router="language", languages=["eng"]))
    with pytest.raises(ValueError, match="pass language="):
        merge_adapters(model)
    with pytest.raises(KeyError, match="'spa' is not known to the router"):
        merge_adapters(model, language="spa")
