"""Audio written out as one file per utterance, as ESPnet's ``format_wav_scp.sh`` writes it.

A Kaldi ``wav.scp`` may name a position in an archive (``a.ark:1234``), a command (``sox ... |``)
or, with ``segments``, a recording of which each utterance is a stretch. ESPnet's ``sound``
reader, the one its training and decoding read raw audio with, takes none of these, so ESPnet's
recipes write every utterance to a file first (``asr.sh`` stage 3). :func:`format_data_dir` does
that for a whole data dir (``python -m lamer.bin.datadir format``); :func:`write_plain_audio`
for the steps that hand audio to ESPnet (the probe dir, the SSL targets), which write only the
utterances that are not already a whole file.

Every file written is 16-bit mono at ``fs`` Hz (default 16 kHz, what lamer's models read): the
channels are averaged and the rate converted as ``prepare_data`` does. A command runs only with
``allow_pipes`` (``--allow_wav_pipes true``, docs/SECURITY.md).
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from lamer.atomic import atomic_dir
from lamer.data.audio import AUDIO_FORMATS, TARGET_RATE, mono_at, write_pcm16
from lamer.data.datadir_io import DONE_MARKER
from lamer.data.dirtools import RECORDING_FILES, ExtraFiles, Row, load_tables, spk2utt_rows, write_tables
from lamer.data.errors import DataError
from lamer.data.lock import output_lock
from lamer.data.wav_scp import WavEntry, read_samples, utterance_entries

AUDIO_DIR = "data"  # format_wav_scp.sh's DIR/data


def _awk_number(value: float) -> str:
    """``value`` as awk prints a number (an integer as one, else ``%.6g``)."""
    return str(int(value)) if value == int(value) else f"{value:.6g}"


def write_plain_audio(entries: Iterable[WavEntry], tmp_dir: Path, final_dir: Path, fs: int = TARGET_RATE,
                      audio_format: str = "wav", allow_pipes: bool = False,
                      every: bool = False) -> dict[str, tuple[str, int | None]]:
    """``{utterance: (audio path, samples)}``: each entry that is not a whole file (or, with
    ``every``, each entry) written as ``<utterance>.<audio_format>`` into ``tmp_dir``, a directory
    that will be ``final_dir`` (its path is the one given, absolute); the others keep their path
    and None. A command runs only with ``allow_pipes``; any entry that cannot be read or written is
    a :class:`DataError` naming its file and line."""
    if audio_format not in AUDIO_FORMATS:
        raise DataError(f"audio format {audio_format!r}: choose one of {', '.join(AUDIO_FORMATS)}")
    out: dict[str, tuple[str, int | None]] = {}
    for entry in entries:
        if entry.plain and not every:
            out[entry.utt] = (entry.audio, None)
            continue
        if "/" in entry.utt or entry.utt.startswith("."):
            raise DataError(f"{entry.origin}: utterance id {entry.utt!r} cannot name a file (a '/' or a leading '.')")
        data, rate = read_samples(entry, allow_pipes)
        samples = mono_at(data, rate, fs)
        if not samples.size:
            raise DataError(f"{entry.origin}: the audio of {entry.utt} is empty")
        name = f"{entry.utt}.{audio_format}"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        write_pcm16(samples, tmp_dir / name, fs)
        out[entry.utt] = (str(Path(final_dir).absolute() / name), int(samples.size))
    return out


def format_data_dir(src: Path, dest: Path, fs: int = TARGET_RATE, audio_format: str = "wav",
                    allow_pipes: bool = False, extra: ExtraFiles = ExtraFiles(),
                    lock_timeout: float | None = None) -> str:
    """Write ``dest``, a copy of the data dir ``src`` whose ``wav.scp`` names one audio file per
    utterance, under ``dest/data/`` (replaced atomically, under its lock).

    As ESPnet's ``asr.sh`` makes its dump dirs: ``segments``, ``reco2file_and_channel`` and
    ``reco2dur`` are left out (the audio is cut), ``utt2num_samples`` is added, and so is
    ``utt2dur`` where ``src`` has none (the segment's length as Kaldi's ``get_utt2dur.sh``
    writes it, else the file's). Returns a summary.
    """
    src, dest = Path(src), Path(dest)
    if src.resolve() == dest.resolve():
        raise DataError(f"format needs a destination other than the source {src}")
    with output_lock(dest, lock_timeout):
        tables = load_tables(src, extra)
        entries = utterance_entries(src, allow_pipes)
        kept = {name: rows for name, rows in tables.items()
                if name in (*extra.utt_keyed(tables), *extra.spk_files())
                and name not in ("wav.scp", "segments", *RECORDING_FILES)}
        with atomic_dir(dest) as tmp:
            audio = write_plain_audio(entries, tmp / AUDIO_DIR, dest / AUDIO_DIR, fs, audio_format, allow_pipes,
                                      every=True)
            kept["wav.scp"] = [Row(utt, f"{utt} {path}") for utt, (path, _) in audio.items()]
            kept["utt2num_samples"] = [Row(utt, f"{utt} {samples}") for utt, (_, samples) in audio.items()]
            if "utt2dur" not in kept:
                kept["utt2dur"] = [Row(entry.utt, f"{entry.utt} {_duration(entry, audio[entry.utt][1], fs)}")
                                   for entry in entries]
            kept["spk2utt"] = spk2utt_rows(kept["utt2spk"])
            write_tables(kept, tmp)
            (tmp / DONE_MARKER).write_text("", encoding="utf-8")
    return f"wrote {len(entries)} audio files of {src} to {dest / AUDIO_DIR} ({fs} Hz, {audio_format})"


def _duration(entry: WavEntry, samples: int | None, fs: int) -> str:
    if entry.segment is not None:  # get_utt2dur.sh: awk '{len=$4-$3; print $1, len;}' segments
        return _awk_number(float(entry.segment.end) - float(entry.segment.start))
    return _awk_number((samples or 0) / fs)
