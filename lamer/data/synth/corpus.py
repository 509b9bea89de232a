"""Generate the synthetic corpus: plan, synthesise in parallel, write both layouts, install.

Output, for each language: ``OUT/commonvoice/<locale>/`` (a Common Voice release folder) and
``OUT/fleurs/<config>/`` (a FLEURS language folder), holding the same recordings. Each folder is
built in a temporary folder under ``OUT`` and renamed into place only when complete, with a
stamp file (:data:`STAMP_NAME`) recording the settings it was made with; a language whose two
folders carry the stamp of the same settings is skipped, so re-running is a no-op.

Reproducibility: the TSVs depend only on the settings. espeak-ng carries some state from one
utterance to the next within a process, so utterances are synthesised in fixed shards of
:data:`SHARD_SIZE`, each in a fresh worker process: the audio is then the same for any ``nj``.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import shutil
import tempfile
from pathlib import Path

from lamer.data.espeak_ng import require_espeak
from lamer.data.synth.corpus_plan import PlannedUtterance, SynthConfig, plan_language
from lamer.data.synth.language_table import SynthLanguage, resolve_languages
from lamer.data.synth.layouts import write_commonvoice_tables, write_fleurs_config
from lamer.data.synth.render import RenderedUtterance, RenderTask, render_shard
from lamer.data.synth.speakers import SPLITS, build_speaker_pool
from lamer.progress import progress

logger = logging.getLogger(__name__)

STAMP_NAME = ".lamer_synth.json"
STAMP_VERSION = 1
# Part of what defines the audio (espeak-ng state runs on within a shard): changing it changes
# the clips, so bump STAMP_VERSION with it.
SHARD_SIZE = 16


def _stamp(lang: SynthLanguage, config: SynthConfig) -> dict:
    return {"generator": "lamer.data.synth", "version": STAMP_VERSION, "language": lang.key,
            **dataclasses.asdict(config)}


def _targets(out_dir: Path, lang: SynthLanguage) -> tuple[Path, Path]:
    return out_dir / "commonvoice" / lang.cv_locale, out_dir / "fleurs" / lang.fleurs_config


def _staged(staging: Path, lang: SynthLanguage) -> tuple[Path, Path]:
    return staging / "commonvoice" / lang.cv_locale, staging / "fleurs" / lang.fleurs_config


def _wav_dir(staging: Path, lang: SynthLanguage) -> Path:
    """Where the FLEURS WAVs of ``lang`` wait, one folder per split, to be packed."""
    return staging / "wav" / lang.key


def _read_stamp(folder: Path) -> dict | None:
    try:
        return json.loads((folder / STAMP_NAME).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _is_done(out_dir: Path, lang: SynthLanguage, config: SynthConfig) -> bool:
    """True when both folders of ``lang`` exist with this stamp; raise ``FileExistsError`` when a
    folder exists that this generator did not make or made with other settings."""
    wanted = _stamp(lang, config)
    done = True
    for folder in _targets(out_dir, lang):
        if not folder.exists():
            done = False
            continue
        stamp = _read_stamp(folder)
        if stamp is None:
            raise FileExistsError(
                f"{folder} exists but has no {STAMP_NAME}: it was not made by the synthetic-corpus "
                "generator; refusing to overwrite it (choose another --out)"
            )
        if stamp != wanted:
            changed = sorted(key for key in wanted if stamp.get(key) != wanted[key])
            raise FileExistsError(
                f"{folder} was generated with other settings (differing: {', '.join(changed)}); "
                "delete it or choose another --out"
            )
    return done


def _shards(utterances: list[PlannedUtterance], cv_clip_dir: Path, fleurs_wav_dir: Path) -> list[RenderTask]:
    return [RenderTask(tuple(utterances[start:start + SHARD_SIZE]), cv_clip_dir, fleurs_wav_dir)
            for start in range(0, len(utterances), SHARD_SIZE)]


def _render_all(tasks: list[RenderTask], nj: int) -> dict[tuple[str, int], RenderedUtterance]:
    """Run every shard in its own fresh process (``maxtasksperchild=1``), ``nj`` at a time."""
    rendered: dict[tuple[str, int], RenderedUtterance] = {}
    total = sum(len(task.utterances) for task in tasks)
    # Children fork from a fork server that has imported the renderer but never synthesised,
    # so each shard starts from espeak-ng's initial state whatever this process has done.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([render_shard.__module__])
    with context.Pool(nj, maxtasksperchild=1) as pool, progress(total=total, desc="synthesising", unit="utt") as bar:
        for task, results in zip(tasks, pool.imap(render_shard, tasks)):
            lang_key = task.utterances[0].lang.key
            rendered.update(((lang_key, r.index), r) for r in results)
            bar.update(len(results))
    return rendered


def _install(built: Path, target: Path) -> None:
    """Move the finished folder ``built`` to ``target``, replacing an older one of ours."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        old = built.parent / f"{built.name}.old"
        target.rename(old)
        built.rename(target)
        shutil.rmtree(old)
    else:
        built.rename(target)


def generate_corpus(out_dir: str | Path, lang_keys: list[str], config: SynthConfig, nj: int = 1) -> list[str]:
    """Write the synthetic corpus for ``lang_keys`` under ``out_dir``; return the languages
    generated (those already finished with the same settings are skipped).

    Raises ``ValueError`` for an unknown language or bad settings, ``FileExistsError`` when
    an output folder exists that was not made with these settings and ``ModuleNotFoundError``
    when espeakng-loader is not installed.
    """
    if nj < 1:
        raise ValueError(f"nj={nj}: need at least one worker")
    out_dir = Path(out_dir)
    langs = resolve_languages(lang_keys)
    out_dir.mkdir(parents=True, exist_ok=True)
    todo = [lang for lang in langs if not _is_done(out_dir, lang, config)]
    for lang in langs:
        if lang not in todo:
            logger.info("%s: already generated with these settings, skipping", lang.key)
    if not todo:
        return []
    require_espeak("the synthetic corpus")
    pool = build_speaker_pool(config.seed, config.num_speakers, config.dev_speakers, config.test_speakers)
    plans = {lang.key: plan_language(lang, config, pool) for lang in todo}
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".synth-tmp-") as tmp:
        staging = Path(tmp)
        tasks = []
        for lang in todo:
            cv_dir, _ = _staged(staging, lang)
            (cv_dir / "clips").mkdir(parents=True)
            for split in SPLITS:
                (_wav_dir(staging, lang) / split).mkdir(parents=True)
            tasks += _shards(plans[lang.key], cv_dir / "clips", _wav_dir(staging, lang))
        rendered = _render_all(tasks, nj)
        for lang in todo:
            by_index = {index: r for (key, index), r in rendered.items() if key == lang.key}
            cv_dir, fleurs_dir = _staged(staging, lang)
            write_commonvoice_tables(cv_dir, plans[lang.key], by_index)
            write_fleurs_config(fleurs_dir, plans[lang.key], by_index, _wav_dir(staging, lang))
            shutil.rmtree(_wav_dir(staging, lang))  # packed into the tarballs now
            stamp = json.dumps(_stamp(lang, config), indent=1, sort_keys=True) + "\n"
            for built, target in zip((cv_dir, fleurs_dir), _targets(out_dir, lang)):
                (built / STAMP_NAME).write_text(stamp, encoding="utf-8")
                _install(built, target)
            logger.info("%s: wrote %s and %s", lang.key, *_targets(out_dir, lang))
    return [lang.key for lang in todo]
