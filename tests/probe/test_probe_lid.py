"""The probe's utterance-level language classifier: its head, and ESPnet's ASR model with it."""
from __future__ import annotations

import pytest
import torch

from lamer.probe.lid_head import LanguageHead, masked_mean_std

TOKENS = ["<blank>", "<unk>", "[eng]", "a", "[fra]", "b", "<space>", "<sos/eos>"]


@pytest.mark.parametrize("hidden", [0, 12])
def test_the_head_maps_frames_to_one_logit_vector_per_utterance(hidden):
    head = LanguageHead(input_size=8, num_languages=3, hidden=hidden)
    logits = head(torch.randn(4, 10, 8), torch.tensor([10, 7, 3, 1]))
    assert logits.shape == (4, 3)
    assert masked_mean_std(torch.randn(4, 10, 8), torch.tensor([10, 7, 3, 1])).shape == (4, 16)


@pytest.mark.parametrize("hidden", [0, 12])
def test_padded_frames_do_not_change_an_utterances_logits(hidden):
    torch.manual_seed(0)
    head = LanguageHead(input_size=6, num_languages=4, hidden=hidden)
    alone = torch.randn(1, 9, 6)
    padded = torch.cat([alone, 100 * torch.randn(1, 5, 6)], dim=1)  # loud garbage where the padding is
    batch = torch.cat([padded, torch.randn(1, 14, 6)])
    expected = head(alone, torch.tensor([9]))
    got = head(batch, torch.tensor([9, 14]))[:1]
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(head(batch, torch.tensor([14, 14]))[:1], expected, atol=1e-3)  # the mask matters


def test_an_utterance_without_frames_is_refused():
    with pytest.raises(ValueError, match="at least one frame"):
        masked_mean_std(torch.randn(2, 5, 3), torch.tensor([5, 0]))


def _toy_set(offsets: torch.Tensor, n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Frames of 3 languages, each with its own mean offset, of varied lengths (zero-padded)."""
    labels = torch.randint(0, 3, (n,), generator=generator)
    lengths = torch.randint(5, 30, (n,), generator=generator)
    feats = torch.randn(n, 30, 16, generator=generator) * 2.0 + 0.5 * offsets[labels][:, None, :]
    feats[torch.arange(30)[None, :] >= lengths[:, None]] = 0.0
    return feats, lengths, labels


def _accuracy_after_training(head: LanguageHead, train: tuple, test: tuple, steps: int = 300) -> float:
    optimizer = torch.optim.Adam(head.parameters(), lr=0.01)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(head(train[0], train[1]), train[2]).backward()
        optimizer.step()
    with torch.no_grad():
        return (head(test[0], test[1]).argmax(-1) == test[2]).float().mean().item()


@pytest.mark.parametrize("hidden", [0, 12])
def test_the_head_learns_separable_languages(hidden):
    generator = torch.Generator().manual_seed(0)
    offsets = torch.randn(3, 16, generator=generator)
    train, test = _toy_set(offsets, 300, generator), _toy_set(offsets, 200, generator)
    torch.manual_seed(0)
    assert _accuracy_after_training(LanguageHead(16, 3, hidden), train, test) > 0.9


def _correlated_set(n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Two languages whose frames have the same per-dimension mean and std: in one the first two
    dimensions move together, in the other against each other."""
    labels = torch.randint(0, 2, (n,), generator=generator)
    feats = torch.randn(n, 20, 4, generator=generator)
    feats[:, :, 1] = torch.where(labels[:, None] == 0, feats[:, :, 0], -feats[:, :, 0])
    return feats, torch.full((n,), 20), labels


def test_the_frame_layer_sees_what_pooled_statistics_cannot():
    generator = torch.Generator().manual_seed(0)
    train, test = _correlated_set(300, generator), _correlated_set(200, generator)
    torch.manual_seed(0)
    assert _accuracy_after_training(LanguageHead(4, 2, hidden=16), train, test) > 0.9
    assert _accuracy_after_training(LanguageHead(4, 2), train, test) < 0.7


def _model(lid_weight: float = 0.3, tokens: list[str] = TOKENS, normalize=None, lid_input: str = "frontend",
           lid_hidden: int = 0):
    """A probe without encoder (its CTC reads the 12 filterbank channels) for lid_input frontend;
    with a one-block transformer encoder (16 dims) for lid_input encoder."""
    from espnet2.asr.ctc import CTC
    from espnet2.asr.encoder.transformer_encoder import TransformerEncoder
    from espnet2.asr.frontend.default import DefaultFrontend

    from lamer.probe.lid_model import LidASRModel

    torch.manual_seed(0)
    frontend = DefaultFrontend(fs=16000, n_fft=128, hop_length=64, n_mels=12)
    encoder = None if lid_input == "frontend" else TransformerEncoder(
        12, output_size=16, attention_heads=2, linear_units=32, num_blocks=1, input_layer="linear")
    return LidASRModel(vocab_size=len(tokens), token_list=tokens, frontend=frontend, specaug=None, normalize=normalize,
                       preencoder=None, encoder=encoder, postencoder=None, decoder=None,
                       ctc=CTC(odim=len(tokens), encoder_output_size=12 if encoder is None else 16), joint_network=None,
                       ctc_weight=1.0, lid_weight=lid_weight, lid_input=lid_input, lid_hidden=lid_hidden)


def _batch(first: list[int]):
    speech = torch.randn(2, 3200)
    speech_lengths = torch.tensor([3200, 2000])
    text = torch.tensor([[first[0], 3, 6, 3], [first[1], 5, -1, -1]])
    return speech, speech_lengths, text, torch.tensor([4, 2])


def test_the_model_adds_the_weighted_lid_loss_and_reports_it():
    model = _model(lid_weight=0.5)
    assert model.languages == ["[eng]", "[fra]"]
    loss, stats, weight = model(*_batch([2, 4]), utt_id=["u1", "u2"])
    assert {"loss_ctc", "loss_lid", "acc_lid", "loss_asr"} <= set(stats)
    assert torch.isclose(loss, stats["loss_ctc"] + 0.5 * stats["loss_lid"])
    assert 0.0 <= float(stats["acc_lid"]) <= 1.0 and int(weight) == 2
    loss.backward()
    assert model.lid_head.linear.weight.grad is not None


def test_the_classifier_reads_the_encoder_by_default_and_trains_it():
    """lid_input encoder: the head pools the encoder's output (its size), the LID loss reaches the
    encoder, and the logits of one encode pass equal those of classify_languages."""
    model = _model(lid_input="encoder")
    assert model.lid_head.linear.in_features == 2 * 16
    loss, stats, _ = model(*_batch([2, 4]), utt_id=["u1", "u2"])
    model.zero_grad()
    (stats["loss_lid"] * 0 + model.lid_weight * torch.nn.functional.cross_entropy(
        model.classify_languages(*_batch([2, 4])[:2]), torch.tensor([0, 1]))).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    model.eval()
    speech, lengths, _, _ = _batch([2, 4])
    with torch.no_grad():
        _, _, logits = model.encode_with_language(speech, lengths)
        assert torch.allclose(logits, model.classify_languages(speech, lengths))


def test_lid_hidden_puts_a_frame_layer_in_the_head_that_the_loss_trains():
    model = _model(lid_input="encoder", lid_hidden=8)
    assert model.lid_head.frame[0].in_features == 16 and model.lid_head.linear.in_features == 2 * 8
    loss, _, _ = model(*_batch([2, 4]), utt_id=["u1", "u2"])
    loss.backward()
    assert model.lid_head.frame[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="hidden >= 0"):
        _model(lid_hidden=-1)


def test_an_unknown_lid_input_is_refused():
    with pytest.raises(ValueError, match="lid_input must be one of"):
        _model(lid_input="decoder")


def test_the_classifier_logits_of_encode_are_one_pass():
    """encode's in-place normalisation (ESPnet's utterance_mvn) leaves the classifier's input alone."""
    from espnet2.layers.utterance_mvn import UtteranceMVN

    model = _model(normalize=UtteranceMVN(norm_means=True, norm_vars=True)).eval()
    speech, lengths, _, _ = _batch([2, 4])
    with torch.no_grad():
        enc, enc_lens, logits = model.encode_with_language(speech, lengths)
        alone = model.classify_languages(speech, lengths)
    assert logits.shape == (2, 2) and enc.shape[0] == 2
    assert torch.allclose(logits, alone)
    assert model.predict_languages(torch.tensor([[0.1, 0.9], [2.0, 1.0]])) == ["[fra]", "[eng]"]


def test_a_transcript_without_a_leading_tag_is_refused_by_utterance():
    model = _model()
    with pytest.raises(ValueError, match=r"utterance u2: its transcript starts with 'b', not a language tag"):
        model(*_batch([2, 5]), utt_id=["u1", "u2"])


def test_a_sentencepiece_word_boundary_before_the_tag_is_skipped():
    tokens = ["<blank>", "<unk>", "\u2581", "[eng]", "[fra]", "a", "<sos/eos>"]
    model = _model(tokens=tokens)
    text = torch.tensor([[2, 4, 5], [3, 5, -1]])
    assert model.language_targets(text, torch.tensor([3, 2])).tolist() == [1, 0]


@pytest.mark.parametrize("weight", [0.0, -1.0])
def test_the_lid_weight_must_be_positive(weight):
    with pytest.raises(ValueError, match="lid_weight must be > 0"):
        _model(lid_weight=weight)


def test_a_token_list_without_tags_is_refused():
    with pytest.raises(ValueError, match="no language tag token"):
        _model(tokens=["<blank>", "<unk>", "a", "<sos/eos>"])


def test_the_model_is_a_choice_of_espnets_asr_task():
    from espnet2.tasks.asr import model_choices

    from lamer.probe.asr_task import register_lamer_choices
    from lamer.probe.lid_model import LidASRModel

    register_lamer_choices()
    register_lamer_choices()  # idempotent
    assert model_choices.get_class("lamer_lid") is LidASRModel
