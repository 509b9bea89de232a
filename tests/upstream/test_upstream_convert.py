"""s3prl <-> transformers conversion keeps every layer's output, adapters included."""
import pytest
import torch

from lamer.adapters import LamerConfig, apply_lamer, routing_languages
from lamer.upstream import open_upstream
from lamer.upstream.convert import base_weights, convert_upstream
from lamer.upstream.naming import parse_conv_layers
from tests.adapters.models import randomize_adapters
from tests.upstream.checkpoints import max_diff, outputs, perturb, waves


@pytest.mark.parametrize("family", ["s3prl_hubert", "s3prl_wav2vec2", "s3prl_wavlm"])
def test_round_trip_through_transformers_is_exact(family):
    loaded = open_upstream("tiny", family)
    perturb(loaded.model)
    hf = convert_upstream(loaded, "hf_" + loaded.arch)
    assert hf.family == "hf_" + loaded.arch and type(hf.model).__module__.startswith("transformers")
    assert max_diff(outputs(loaded.model, waves()), outputs(hf.model, waves())) <= 1e-5
    back = convert_upstream(hf, family)
    original, returned = base_weights(loaded.model), base_weights(back.model)
    encoder = [k for k in original
               if k.startswith(("encoder.", "feature_extractor.", "post_extract_proj", "layer_norm"))]
    assert encoder and all(torch.equal(original[k], returned[k]) for k in encoder)


def test_adapted_model_converts_with_its_adapters():
    config = LamerConfig(allocation="groups:2,3", targets=["ffn", "attn_qv"], router="soft", shared_experts=1)
    loaded = open_upstream("tiny", "s3prl_hubert")
    apply_lamer(loaded.model, config)
    randomize_adapters(loaded.model, scale=0.3)
    hf = convert_upstream(loaded, "hf_hubert")
    expected = outputs(loaded.model, waves())
    assert max_diff(expected, outputs(open_upstream("tiny").model, waves())) > 1e-3  # the adapters matter
    assert max_diff(expected, outputs(hf.model, waves())) <= 1e-5


def test_language_routed_adapters_convert_from_transformers():
    config = LamerConfig(allocation="uniform:3", router="language", languages=["eng", "fra"])  # 1 shared + 2 routed
    loaded = open_upstream("tiny", "hf_wav2vec2")
    apply_lamer(loaded.model, config)
    randomize_adapters(loaded.model, scale=0.3)
    s3prl = convert_upstream(loaded, "s3prl_wav2vec2")
    results = []
    for langs in (["eng", "eng"], ["fra", "fra"]):
        with routing_languages(loaded.model, langs), routing_languages(s3prl.model, langs):
            results.append(outputs(loaded.model, waves()))
            assert max_diff(results[-1], outputs(s3prl.model, waves())) <= 1e-5
    assert max_diff(*results) > 1e-3  # the language really routes


def test_style_specific_targets_do_not_carry_over():
    loaded = open_upstream("tiny", "s3prl_hubert")
    apply_lamer(loaded.model, LamerConfig(allocation="uniform:1", targets=["fc1"]))
    with pytest.raises(ValueError, match="style-specific target patterns do not carry over"):
        convert_upstream(loaded, "hf_hubert")


def test_conv_spec_is_parsed_without_eval():
    assert parse_conv_layers("[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2") == \
        [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2
    with pytest.raises(ValueError, match="only lists of"):
        parse_conv_layers("[(512, 10, __import__('os').getpid())]")
