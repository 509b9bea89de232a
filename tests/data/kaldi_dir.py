"""Kaldi data dirs as Kaldi and ESPnet recipes leave them: audio in wav files, at positions in
Kaldi archives (Kaldi's own, 16-bit, and ESPnet's, flac written through soundfile) and behind
commands, with or without ``segments`` cutting recordings into utterances."""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import kaldiio
import numpy as np
import soundfile as sf

RATE = 16000
# recording: (speaker, seconds, how wav.scp names it, segments as written: (utterance suffix, start, end));
# ids are prefixed with the language (eng_a-r1)
RECORDINGS = {
    "a-r1": ("a", 3.0, "file", [("000", "0", "1.1"), ("001", "1.1", "2.36")]),
    "b-r2": ("b", 2.0, "ark", [("000", "0.25", "1.75")]),
    "c-r3": ("c", 1.5, "pipe", [("000", "0.00", "1.5")]),
    "d-r4": ("d", 1.2, "flac_ark", [("000", "0.1", "1.2")]),
}


@dataclass(frozen=True)
class KaldiDir:
    """A data dir and what its audio holds: ``samples`` are each utterance's 16-bit samples as
    Kaldi's extract-segments cuts them; the command of the pipe entry touches ``marker``."""

    path: Path
    samples: dict[str, np.ndarray]
    marker: Path


def _recording(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * RATE)) * 3000).astype(np.int16)


def _audio_field(kind: str, recording: str, samples: np.ndarray, audio: Path, marker: Path) -> str:
    """How ``wav.scp`` names ``samples``, written under ``audio``."""
    if kind in ("file", "pipe"):
        sf.write(audio / f"{recording}.wav", samples, RATE, subtype="PCM_16")
        if kind == "file":
            return str(audio / f"{recording}.wav")
        return f"touch {shlex.quote(str(marker))}; cat {shlex.quote(str(audio / f'{recording}.wav'))} |"
    options = {"write_function": "soundfile", "write_kwargs": {"format": "flac"}} if kind == "flac_ark" else {}
    scp = audio / f"{recording}.scp"
    kaldiio.save_ark(str(audio / f"{recording}.ark"), {recording: (RATE, samples)}, scp=str(scp), **options)
    return scp.read_text(encoding="utf-8").split(maxsplit=1)[1].strip()


def write_kaldi_dir(root: Path, segments: bool = True, pipes: bool = True, lang: str = "eng") -> KaldiDir:
    """A data dir under ``root/data`` (audio under ``root/audio``) of the recordings of
    :data:`RECORDINGS` (without the command one unless ``pipes``; ids prefixed with ``lang``), with
    ``segments``, or without it one utterance per recording (``<recording>-000``, the whole of
    it). It has what lamer's
    readers need besides Kaldi's files: ``utt2lang``, and ``utt2dur`` as Kaldi's get_utt2dur.sh
    writes it (end - start of each segment)."""
    audio, data = root / "audio", root / "data"
    audio.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    marker = root / "marker"
    wav_scp, cuts, samples = [], [], {}
    for seed, (recording, (speaker, seconds, kind, parts)) in enumerate(RECORDINGS.items()):
        if kind == "pipe" and not pipes:
            continue
        recording, speaker = f"{lang}_{recording}", f"{lang}_{speaker}"
        whole = _recording(seconds, seed)
        field = _audio_field(kind, recording, whole, audio, marker)
        if not segments:
            utt = f"{recording}-000"
            wav_scp.append(f"{utt} {field}")
            cuts.append((utt, speaker, f"{seconds:g}"))
            samples[utt] = whole
            continue
        wav_scp.append(f"{recording} {field}")
        for suffix, start, end in parts:
            utt = f"{recording}-{suffix}"
            cuts.append((utt, speaker, f"{float(end) - float(start):.6g}", f"{recording} {start} {end}"))
            samples[utt] = whole[int(float(start) * RATE):int(float(end) * RATE)]
    files = {
        "wav.scp": wav_scp,
        "text": [f"{cut[0]} words of {cut[0]}" for cut in cuts],
        "utt2spk": [f"{cut[0]} {cut[1]}" for cut in cuts],
        "utt2lang": [f"{cut[0]} {lang}" for cut in cuts],
        "utt2dur": [f"{cut[0]} {cut[2]}" for cut in cuts],
    }
    if segments:
        files["segments"] = [f"{cut[0]} {cut[3]}" for cut in cuts]
    speakers: dict[str, list[str]] = {}
    for cut in cuts:
        speakers.setdefault(cut[1], []).append(cut[0])
    files["spk2utt"] = [" ".join([speaker, *utts]) for speaker, utts in speakers.items()]
    for name, lines in files.items():
        (data / name).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return KaldiDir(data, samples, marker)


def lines(path: Path) -> list[str]:
    """The lines of a text file, without their newlines."""
    return path.read_text(encoding="utf-8").splitlines()
