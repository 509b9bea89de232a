"""The log-mel front end: its features, its frame geometry, and every way its checkpoints load."""
from __future__ import annotations

import pytest
import torch

from lamer.probe.s3prl_expert import needs_lamer_expert
from lamer.ssl.encoder import MaskedUpstream, conv_frames
from lamer.ssl.features import receptive_field
from lamer.upstream import open_upstream
from lamer.upstream.convert import convert_upstream
from lamer.upstream.log_mel import EXTRACTOR_KEY, LogMelExtractor, extractor_config, mel_filterbank
from lamer.upstream.presets import build_preset, get_shape, s3prl_configs, save_s3prl_checkpoint
from tests.upstream.checkpoints import max_diff, outputs, perturb

PRESET = "small_mel"


def mel_checkpoint(tmp_path, name: str = "mel.pt") -> tuple[torch.nn.Module, str]:
    model = perturb(build_preset(PRESET))
    task_cfg, model_cfg = s3prl_configs(get_shape(PRESET))
    path = tmp_path / name
    save_s3prl_checkpoint(model, task_cfg, model_cfg, str(path))
    return model, str(path)


def test_filterbank_is_the_htk_mel_filterbank_torchaudio_computes():
    from torchaudio.functional import melscale_fbanks

    expected = melscale_fbanks(257, 0.0, 8000.0, 80, 16000, norm=None, mel_scale="htk")
    assert torch.allclose(mel_filterbank(80, 512), expected, atol=1e-5)


def test_log_mel_is_the_power_stft_through_the_filterbank():
    wav = torch.randn(1, 8000, generator=torch.Generator().manual_seed(0)) * 0.1
    extractor = LogMelExtractor(extractor_config(16))
    ours = extractor.log_mel(wav)[0]
    # torch.stft centres a 400-sample window in its 512-sample frame: shift the signal to match
    spec = torch.stft(torch.nn.functional.pad(wav[0], (56, 56)), n_fft=512, hop_length=160, win_length=400,
                      window=torch.hann_window(400), center=False, return_complex=True)
    expected = torch.log(mel_filterbank(80, 512).T @ spec.abs().square() + 1e-6)
    assert ours.shape[1] == (8000 - 400) // 160 + 1
    frames = min(ours.shape[1], expected.shape[1])
    assert torch.allclose(ours[:, :frames], expected[:, :frames], atol=1e-3)


def test_a_tone_lights_the_mel_band_of_its_frequency():
    t = torch.arange(16000) / 16000
    extractor = LogMelExtractor(extractor_config(16))
    low, high = (extractor.log_mel(torch.sin(2 * torch.pi * f * t)[None])[0].mean(1).argmax() for f in (300, 3000))
    assert low < high
    centres = mel_filterbank(80, 512).argmax(0) * 16000 / 512  # the bin where each filter peaks, in Hz
    assert abs(centres[low] - 300) < 60 and abs(centres[high] - 3000) < 200


@pytest.mark.parametrize("samples", [560, 561, 879, 880, 16000, 16321, 47999])
def test_frames_follow_the_declared_geometry(samples):
    model = build_preset(PRESET)
    assert receptive_field(model) == (560, 320)  # 25 ms window + one 10 ms hop; 20 ms frames
    expected = ((samples - 400) // 160 + 1) // 2
    assert int(conv_frames(model, torch.tensor([samples]))[0]) == expected
    layers = MaskedUpstream(model)(torch.randn(1, samples) * 0.1, torch.tensor([samples]))
    assert layers[0].shape[1] == expected


def test_the_stft_is_not_a_parameter_and_not_saved():
    model = build_preset(PRESET)
    names = [name for name, _ in model.named_parameters() if name.startswith("feature_extractor.")]
    assert names == ["feature_extractor.stack.weight", "feature_extractor.stack.bias"]
    assert not any("stft" in key or "filters" in key for key in model.state_dict())


def test_checkpoint_round_trip_through_the_loader(tmp_path):
    model, path = mel_checkpoint(tmp_path)
    loaded = open_upstream(path)
    assert isinstance(loaded.model.feature_extractor, LogMelExtractor)
    assert loaded.model_config[EXTRACTOR_KEY]["type"] == "log_mel"
    wavs = torch.randn(2, 6400, generator=torch.Generator().manual_seed(1)) * 0.1
    assert max_diff(outputs(model, wavs), outputs(loaded.model, wavs)) < 1e-5
    assert needs_lamer_expert(path)


def test_s3prl_own_loader_refuses_it_rather_than_running_a_cnn(tmp_path):
    from s3prl.nn import S3PRLUpstream

    _, path = mel_checkpoint(tmp_path)
    with pytest.raises(RuntimeError, match="feature_extractor.conv_layers"):
        S3PRLUpstream("hubert_local", path_or_url=path)


def test_espnet_frontend_runs_it_through_the_lamer_expert(tmp_path):
    from lamer.probe.frontend import LamerS3prlFrontend
    from lamer.probe.s3prl_expert import LamerUpstreamExpert

    model, path = mel_checkpoint(tmp_path)
    frontend = LamerS3prlFrontend(upstream="hubert_local", path_or_url=path, multilayer_feature=True)
    assert isinstance(frontend.upstream.upstream, LamerUpstreamExpert)
    wavs, lengths = torch.randn(2, 16000) * 0.1, torch.tensor([16000, 12000])
    with torch.no_grad():
        states, _ = frontend.upstream(wavs, lengths)
        ours = MaskedUpstream(model)(wavs, lengths)
    assert len(states) == len(ours) + 1  # s3prl adds the input of the first layer
    assert max_diff([s[:1] for s in states[1:]], [o[:1] for o in ours]) < 1e-5
    feats, feat_lengths = frontend(wavs, lengths)
    assert feats.shape[-1] == 128 and feat_lengths[0] > feat_lengths[1]


def test_a_cnn_checkpoint_keeps_s3prl_s_own_expert(tmp_path):
    model = build_preset("tiny")
    task_cfg, model_cfg = s3prl_configs(get_shape("tiny"))
    save_s3prl_checkpoint(model, task_cfg, model_cfg, str(tmp_path / "cnn.pt"))
    assert not needs_lamer_expert(tmp_path / "cnn.pt")


def test_transformers_cannot_take_it(tmp_path):
    _, path = mel_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="log-mel front end"):
        convert_upstream(open_upstream(path), "hf_hubert")
    with pytest.raises(ValueError, match="s3prl family"):
        build_preset(PRESET, "hf_hubert")


@pytest.mark.parametrize("bad, message", [({"type": "mfcc"}, "type: log_mel"),
                                          ({"n_mels": 0}, "n_mels"), ({"hop": 800}, "longer than the window"),
                                          ({"stack": "2"}, "stack")])
def test_bad_configs_are_named(bad, message):
    config = {**extractor_config(16), **bad}
    with pytest.raises(ValueError, match=message):
        LogMelExtractor(config)


def test_adapters_load_into_it_as_the_expert_usage_report_does(tmp_path):
    from lamer.adapters import LamerConfig, apply_lamer, save_adapters
    from lamer.eval.expert_usage import load_patched_upstream

    model, path = mel_checkpoint(tmp_path)
    wavs, lengths = torch.randn(2, 8000) * 0.1, torch.tensor([8000, 6000])
    base = MaskedUpstream(model)(wavs, lengths)
    apply_lamer(model, LamerConfig(allocation="groups:2,2,4,4", targets=["ffn"]))
    for name, param in model.named_parameters():
        if "lora_b" in name or "experts" in name:
            torch.nn.init.normal_(param, std=0.3)
    save_adapters(model, tmp_path / "adapters")
    upstream = load_patched_upstream(path, tmp_path / "adapters")
    with torch.no_grad():
        patched, _ = upstream(wavs, lengths)
    assert (patched[-1][:, :base[-1].shape[1]] - base[-1]).abs().max() > 1e-3
    with torch.no_grad():
        expected = MaskedUpstream(model)(wavs, lengths)
    assert max_diff([patched[-1][:1]], [expected[-1][:1]]) < 1e-4


def test_an_export_names_the_s3prl_upstream_that_loads_it(tmp_path):
    import json

    from s3prl.nn import S3PRLUpstream

    from lamer.probe.s3prl_expert import register
    from lamer.upstream.export import export_upstream

    model, path = mel_checkpoint(tmp_path)
    out = export_upstream(open_upstream(path), tmp_path / "export", "s3prl")
    manifest = json.loads((out / "export.json").read_text(encoding="utf-8"))
    assert manifest["s3prl_upstream"] == "lamer_local"
    register()
    upstream = S3PRLUpstream(manifest["s3prl_upstream"], path_or_url=str(out / manifest["upstream"])).eval()
    wavs = torch.randn(1, 8000) * 0.1
    with torch.no_grad():
        states, _ = upstream(wavs, torch.tensor([8000]))
    assert max_diff(states[1:], outputs(model, wavs)) < 1e-5


def test_its_merged_export_is_s3prl_format_and_names_the_espnet_frontend_that_loads_it(tmp_path, caplog):
    """transformers cannot express the log-mel front end, nor s3prl's hubert_local build it: a merged export
    defaults to the s3prl format and export.json states ESPnet's frontend: s3prl with upstream lamer_local."""
    import json
    import logging

    from espnet2.asr.frontend.s3prl import S3prlFrontend

    from lamer.adapters import LamerConfig, apply_lamer, save_adapters
    from lamer.bin import export_model
    from lamer.probe.s3prl_expert import register
    from tests.adapters.models import randomize_adapters

    model, path = mel_checkpoint(tmp_path)
    apply_lamer(model, LamerConfig(allocation="uniform:1", targets=["ffn", "attn"], shared_experts=0))
    randomize_adapters(model, scale=0.05)
    save_adapters(model, tmp_path / "adapters")
    wavs = torch.randn(1, 8000) * 0.1
    expected = outputs(model, wavs)
    caplog.set_level(logging.INFO)
    out = tmp_path / "merged"
    assert export_model.main(["--upstream", path, "--adapters", str(tmp_path / "adapters"), "--merge",
                              "--out", str(out)]) == 0
    espnet = json.loads((out / "export.json").read_text(encoding="utf-8"))["espnet"]
    assert espnet == {"frontend": "s3prl", "needs_lamer": True,
                      "frontend_conf": {"frontend_conf": {"upstream": "lamer_local", "path_or_url": "upstream.pt"}}}
    assert (f"ESPnet loads it with: --frontend s3prl --frontend_conf frontend_conf.upstream=lamer_local "
            f"--frontend_conf frontend_conf.path_or_url={out / 'upstream.pt'} (a plain ESPnet after: "
            "python -m lamer.bin.espnet_plugin install)") in caplog.messages
    register()
    conf = espnet["frontend_conf"]
    conf["frontend_conf"]["path_or_url"] = str(out / "upstream.pt")
    frontend = S3prlFrontend(**conf, multilayer_feature=True).eval()
    with torch.no_grad():
        states, _ = frontend.upstream(wavs, torch.tensor([8000]))
    assert max_diff(states[1:], expected) < 1e-4


def test_lamer_local_says_what_to_do_with_a_checkpoint_it_does_not_serve(tmp_path):
    from lamer.probe.s3prl_expert import lamer_local
    from tests.upstream.checkpoints import write_hf_directory

    write_hf_directory(tmp_path / "hf", "hf_hubert")
    with pytest.raises(ValueError, match=r"this one is transformers; convert it with python -m "
                                         r"lamer.bin.export_model --format s3prl"):
        lamer_local(str(tmp_path / "hf"))


def test_log_mel_stays_float32_under_autocast():
    extractor = LogMelExtractor(extractor_config(16))
    wav = torch.sin(2 * torch.pi * 1000 * torch.arange(8000) / 16000)[None]  # full scale: power ~ 4e4 per bin
    expected = extractor.log_mel(wav)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        got = extractor.log_mel(wav)
    assert got.dtype == torch.float32 and torch.equal(got, expected)
