"""Expert usage on dev sets: mean router weight per routed expert, per layer and language.

The patched upstream is run as the probe sees it (base checkpoint + adapters, eval mode) over
the utterances of Kaldi-style dirs (``wav.scp`` + ``utt2lang``). Utterances go one at a time,
so padding frames never enter the means, and one language at a time: the accumulator of each
language is its own, whatever languages the router was told about. Where the adapters know
the language (it is in the Lamer config's ``languages``), it is also handed to the routers,
which language routing needs; a language the adapters never saw is measured with frame
routing alone, the honest reading for a language a deployed model meets unannounced.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import torch
from torch import nn

from lamer.adapters import load_adapters, patch_state, routing_languages, track_expert_usage
from lamer.data.datadir_io import read_table
from lamer.data.wav_scp import NO_PIPE_HINT, WavEntry, read_audio, utterance_entries
from lamer.progress import progress

logger = logging.getLogger(__name__)


def load_patched_upstream(checkpoint: str | Path, adapters: str | Path, upstream: str = "hubert_local") -> nn.Module:
    """An s3prl upstream from ``checkpoint`` with the Lamer adapters of ``adapters``, in eval mode."""
    from s3prl.nn import S3PRLUpstream

    from lamer.probe.s3prl_expert import resolve_upstream

    if upstream.endswith("_local") and not Path(checkpoint).is_file():
        raise FileNotFoundError(f"{checkpoint}: no upstream checkpoint there")
    model = S3PRLUpstream(resolve_upstream(upstream, checkpoint), path_or_url=str(checkpoint))
    load_adapters(model, adapters)
    return model.eval()


def utterances_by_language(data_dirs: list[Path]) -> dict[str, list[WavEntry]]:
    """``{lang: [utterance audio, ...]}`` from the wav.scp (and segments) and utt2lang of every
    dir; an entry that runs a command is refused (these tools run none), naming its file and line."""
    out: dict[str, list[WavEntry]] = defaultdict(list)
    for data_dir in map(Path, data_dirs):
        wavs = {entry.utt: entry for entry in utterance_entries(data_dir, hint=NO_PIPE_HINT)}
        langs = {utt: (lang, origin) for utt, lang, origin in read_table(data_dir / "utt2lang")}
        missing = sorted(set(wavs) - set(langs))
        if missing:
            raise ValueError(f"{data_dir}/utt2lang: no language for {len(missing)} utterance(s) of wav.scp, "
                             f"e.g. {missing[0]}")
        for utt, entry in wavs.items():
            out[langs[utt][0]].append(entry)
    if not out:
        raise ValueError(f"no utterances in {', '.join(map(str, data_dirs))}")
    return dict(sorted(out.items()))


@torch.no_grad()
def measure_expert_usage(model: nn.Module, utterances: dict[str, list[WavEntry]],
                         device: str = "cpu") -> dict[str, dict[str, list[float]]]:
    """``{"<layer>": {"<iso>": [mean weight of routed expert 0, 1, ...]}}`` over ``utterances``.

    ``model`` is a Lamer-patched S3PRLUpstream (``load_patched_upstream``); only layers with a
    router (more than one routed expert) appear.
    """
    state = patch_state(model)
    if state is None:
        raise ValueError("the upstream has no Lamer adapters")
    known = set(state.config.languages)
    model = model.to(device)
    usage: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for lang, utts in utterances.items():
        if state.config.router == "language" and lang not in known:
            raise ValueError(f"language {lang!r}: the adapters route by language and know only {sorted(known)}")
        with track_expert_usage(model) as tracker, routing_languages(model, [lang] if lang in known else None):
            for entry in progress(utts, desc=f"expert usage {lang}", unit="utt", leave=False):
                wav = torch.from_numpy(read_audio(entry)).to(device)
                model(wav[None], torch.tensor([wav.numel()], device=device))
        for layer, per_lang in tracker.mean_per_layer().items():
            (weights,) = per_lang.values()  # one language per tracker: its code, or 'all'
            usage[str(layer)][lang] = weights
        logger.info("expert usage: %s, %d utterances", lang, len(utts))
    return dict(usage)
