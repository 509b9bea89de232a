import pytest
import torch

from lamer.adapters import (
    LamerConfig,
    LamerLinear,
    adapter_parameters,
    apply_lamer,
    aux_loss,
    parameter_report,
    patched_modules,
    routing_languages,
    total_rank,
)
from lamer.upstream.forward import hidden_states
from lamer.upstream.presets import build_preset
from tests.adapters.models import (
    ATTENTION_OK,
    FAMILIES,
    assert_unchanged,
    frozen_preset,
    max_diff,
    model_state,
    outputs,
    randomize_adapters,
)


@pytest.mark.parametrize("family", FAMILIES)
def test_fresh_patch_equals_the_base_model(family, batch):
    model = frozen_preset("tiny", family)
    before = outputs(model, batch)
    apply_lamer(model, LamerConfig(allocation="linear:2-4", targets=["ffn"]))
    assert max_diff(before, outputs(model, batch)) <= 1e-6


@pytest.mark.parametrize("family", ATTENTION_OK)
def test_fresh_attention_patch_equals_the_base_model(family, batch):
    model = frozen_preset("tiny", family)
    before = outputs(model, batch)
    apply_lamer(model, LamerConfig(allocation="uniform:2", targets=["ffn", "attn"]))
    # s3prl attention now takes its unfused path (same maths, other summation order)
    assert max_diff(before, outputs(model, batch)) <= 2e-6


@pytest.mark.parametrize("family", FAMILIES)
def test_only_adapter_and_router_parameters_are_trainable(family):
    model = build_preset("tiny", family)
    apply_lamer(model, LamerConfig(allocation="uniform:3", targets=["ffn"], router="topk"))
    adapters = {id(p) for p in adapter_parameters(model).values()}
    for name, param in model.named_parameters():
        assert param.requires_grad == (id(param) in adapters), name
    kinds = {key.split(".")[-2] + "." + key.split(".")[-1] if "lora" in key or "gate" in key
             else key.split(".")[-1] for key in adapter_parameters(model)}
    assert kinds == {"shared.lora_A", "shared.lora_B", "routed.lora_A", "routed.lora_B",
                     "gate.weight", "balance"}


@pytest.mark.parametrize("family", ["s3prl_hubert", "hf_wav2vec2"])
def test_gradient_reaches_every_expert(family, batch):
    model = build_preset("tiny", family)
    apply_lamer(model, LamerConfig(allocation="uniform:4", targets=["ffn"], load_balance_weight=0.1))
    model.train()
    hidden_states(model, *batch)[-1].pow(2).mean().backward()
    for key, param in adapter_parameters(model).items():  # from zero-init B, only B learns at first
        if key.endswith("lora_B"):
            assert param.grad is not None and param.grad.abs().sum() > 0, key
    model.zero_grad()
    randomize_adapters(model, scale=0.1)
    loss = hidden_states(model, *batch)[-1].pow(2).mean() + aux_loss(model)
    loss.backward()
    for key, param in adapter_parameters(model).items():
        assert param.grad is not None and param.grad.abs().sum() > 0, key
        if "lora" in key:  # every expert's own slice got gradient, not just the bank
            per_expert = param.grad.reshape(-1, 4, *param.shape[1:]) if key.endswith("A") else param.grad.T
            rank_rows = per_expert.reshape(param.grad.shape[0] if key.endswith("A") else param.grad.shape[1], -1)
            assert (rank_rows.abs().sum(-1) > 0).all(), key


@pytest.mark.parametrize("family, targets", [(f, ["ffn"]) for f in FAMILIES]
                         + [(f, ["ffn", "attn"]) for f in ATTENTION_OK])
def test_every_patched_module_changes_the_output(family, targets, batch):
    model = frozen_preset("tiny", family)
    apply_lamer(model, LamerConfig(allocation="uniform:2", targets=targets))
    base = outputs(model, batch)  # equal to the base model (tests above), same attention path
    modules = list(patched_modules(model))
    assert len(modules) == 3 * (2 if targets == ["ffn"] else 6)
    for layer, name, module in modules:
        saved = {k: v.clone() for k, v in module.state_dict().items()}
        calls = []
        hook = module.register_forward_hook(lambda *_: calls.append(1))
        with torch.no_grad():
            for key, param in module.named_parameters():
                if "lora_B" in key:
                    param.normal_(0, 0.5)
        diff = max_diff(base, outputs(model, batch))
        hook.remove()
        assert calls, f"{layer}:{name} was never called"
        assert diff > 1e-5, f"adapters on layer {layer} {name} do not change the output"
        module.load_state_dict(saved)


@pytest.mark.parametrize("family", ["s3prl_wavlm", "hf_wavlm"])
def test_attention_that_bypasses_its_modules_is_refused(family):
    model = build_preset("tiny", family)
    with pytest.raises(ValueError, match="cannot patch attention projections.*multi_head_attention_forward"):
        apply_lamer(model, LamerConfig(targets=["attn_qv"], allocation="uniform:2"))


def test_targets_can_differ_per_layer_index():
    model = build_preset("tiny", "s3prl_hubert")
    state = apply_lamer(model, LamerConfig(allocation="steps:2,0,4", targets=["fc2"],
                                           layer_targets={"2-": ["ffn", r"self_attn\.v_proj"]}))
    assert state.modules == {0: ["fc2"], 2: ["fc1", "fc2", "self_attn.v_proj"]}
    assert not isinstance(model.encoder.layers[1].fc2, LamerLinear)
    assert model.encoder.layers[2].self_attn.v_proj.num_experts == 4


@pytest.mark.parametrize("config, message", [
    (dict(targets=["ffn", "nope"]), r"target 'nope' matches no linear layer in layer 0; its linear layers are \["),
    (dict(layer_targets={"5": ["ffn"]}), r"layer_targets key '5': layers 5-5 are outside 0-2"),
    (dict(layer_targets={"a-b": ["ffn"]}), r"expected 'N', 'N-M' or 'N-'"),
    (dict(allocation="steps:1,2"), r"2 counts for a model of 3 layers"),
])
def test_bad_targets_are_clear_errors(config, message):
    model = build_preset("tiny", "hf_hubert")
    with pytest.raises(ValueError, match=message):
        apply_lamer(model, LamerConfig(**config))


@pytest.mark.parametrize("config, message", [
    (dict(rank=50_000_000), r"rank: 50000000 is above the width of layers.0.feed_forward.intermediate_dense "
                            r"\(32 -> 64\); a LoRA rank is at most min\(in_features, out_features\) = 32"),
    (dict(rank=33, shared_experts=0), r"rank: 33 is above the width of layers.0"),
    (dict(rank=4, shared_rank=33), r"shared_rank: 33 is above the width of layers.0"),
])
def test_a_rank_above_the_layer_width_is_refused_naming_option_and_layer(config, message):
    """Checked for every target before any expert is allocated (rank 50000000 would take gigabytes)."""
    model = frozen_preset("tiny", "hf_hubert")
    before = model_state(model)
    with pytest.raises(ValueError, match=message):
        apply_lamer(model, LamerConfig(**config))
    assert_unchanged(model, before)
    apply_lamer(model, LamerConfig(rank=32, shared_rank=32))  # the width itself is a valid rank


@pytest.mark.parametrize("family, config", [
    ("s3prl_hubert", dict(layer_targets={"2": ["fc1", "nope"]})),
    ("s3prl_wavlm", dict(layer_targets={"2": ["attn_qv"]})),
])
def test_a_patch_refused_in_its_last_layer_leaves_the_earlier_layers_unchanged(family, config):
    """Every layer is checked before any is patched (a bad target, an attention without a module path)."""
    model = frozen_preset("tiny", family)
    before = model_state(model)
    with pytest.raises(ValueError, match="layer 2"):
        apply_lamer(model, LamerConfig(allocation="uniform:2", targets=["ffn", "attn_qv"] if family == "s3prl_hubert"
                                       else ["ffn"], **config))
    assert_unchanged(model, before)


def test_patching_twice_is_refused():
    model = build_preset("tiny", "hf_hubert")
    apply_lamer(model, LamerConfig(allocation="uniform:2"))
    with pytest.raises(ValueError, match="already patched"):
        apply_lamer(model, LamerConfig(allocation="uniform:2"))


def test_default_preset_trains_about_two_percent_of_hubert_base():
    model = build_preset("hubert_base", "s3prl_hubert")
    apply_lamer(model, LamerConfig.from_yaml("conf/lamer/lamer_base.yaml"))
    report = parameter_report(model)
    assert report["experts_per_layer"] == [2, 2, 2, 2, 4, 4, 4, 4, 8, 8, 8, 8]
    assert 2.0 <= report["trainable_percent"] <= 2.3
    assert report["trainable_params"] == report["adapter_params"]
    assert report["targets"] == ["fc1", "fc2"]


def test_total_rank_sums_every_experts_rank_over_the_patched_modules():
    model = build_preset("tiny", "s3prl_hubert")  # 3 layers, fc1 and fc2 patched
    apply_lamer(model, LamerConfig(allocation="groups:2,4,8", rank=4, shared_rank=6))
    # per module: a shared expert of rank 6 and 1, 3, 7 routed experts of rank 4
    assert total_rank(model) == parameter_report(model)["total_rank"] == 2 * (6 * 3 + 4 * (1 + 3 + 7))
    other = build_preset("tiny", "s3prl_hubert")
    apply_lamer(other, LamerConfig(allocation="uniform:3", rank=5, shared_experts=0))
    assert total_rank(other) == 2 * 3 * 3 * 5


def test_without_a_shared_expert_every_expert_is_routed_and_nothing_is_always_on():
    model = build_preset("tiny", "s3prl_hubert")
    apply_lamer(model, LamerConfig(allocation="groups:3,4,8", shared_experts=0))
    for _, _, module in patched_modules(model):
        assert module.shared is None and module.balance is None and float(module.shared_share()) == 0.0
        assert module.router is not None and module.routed.num_experts == module.num_experts
    assert parameter_report(model)["experts_per_layer"] == [3, 4, 8]


def test_oracle_routing_trains_only_the_experts_of_the_batchs_languages(batch):
    model = build_preset("tiny", "s3prl_hubert")
    apply_lamer(model, LamerConfig(allocation="uniform:4", router="oracle", load_balance_weight=0.0))  # 3 routed
    randomize_adapters(model, scale=0.1)
    model.train()
    with routing_languages(model, torch.tensor([4, 1])):  # languages 4 and 1 -> expert 1 of 3
        hidden_states(model, *batch)[-1].pow(2).mean().backward()
    for _, _, module in patched_modules(model):
        rows = module.routed.lora_B.grad.abs().sum(0).reshape(3, -1).sum(-1)  # per expert, over its rank
        assert rows[1] > 0 and rows[0] == 0 and rows[2] == 0
        assert module.shared.lora_B.grad.abs().sum() > 0  # the shared expert sees every language
