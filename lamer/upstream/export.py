"""Write an upstream (adapted or not) for others to load.

Two kinds of export directory, both with an ``export.json`` that :func:`load_upstream` reads:

- base + adapters: ``upstream.pt`` (s3prl converted format, what ESPnet's S3prlFrontend
  loads with ``upstream: hubert_local`` / ``wav2vec2_local`` / ``wavlm_local``, or ``lamer_local``
  for a log-mel front end, see :mod:`lamer.probe.s3prl_expert`) or
  ``upstream/`` (a transformers directory), plus ``adapters/`` as written by
  :func:`lamer.adapters.save_adapters`;
- merged (``merge=True``): the adapters folded into the base weights where that is exact
  (single expert, or language routing for one ``language``), so ``upstream/`` is a plain
  transformers directory (``HubertModel.from_pretrained`` loads it) or ``upstream.pt`` a
  plain s3prl checkpoint.

An s3prl-format export states in ``export.json`` (``espnet``) the ESPnet frontend that loads it,
with paths relative to the export directory: ``frontend: s3prl`` with its ``s3prl_upstream``, or
``frontend: lamer`` where there are adapters to apply; ``needs_lamer`` says whether that takes
lamer's names in ESPnet (``lamer_local``, ``frontend: lamer``: our entry points, or a plain ESPnet
with ``python -m lamer.bin.espnet_plugin install``). A log-mel front end (:mod:`lamer.upstream.log_mel`)
is s3prl format only: transformers models have the CNN alone, and s3prl's own ``hubert_local``
cannot build it either, hence ``lamer_local``.
"""
from __future__ import annotations

import json
from pathlib import Path

from safetensors import SafetensorError

from lamer.atomic import atomic_dir
from lamer.layout import ModelDir
from lamer.upstream.convert import base_weights, convert_upstream, random_copy
from lamer.upstream.head import label_symbols
from lamer.upstream.hf import write_hf_directory
from lamer.upstream.loader import EXPORT_FORMAT, EXPORT_MANIFEST, LoadedUpstream
from lamer.upstream.log_mel import EXTRACTOR_KEY
from lamer.upstream.naming import HF_MODEL_CLASSES
from lamer.upstream.s3prl_format import LAMER_UPSTREAM, s3prl_upstream_name, write_s3prl_checkpoint
from lamer.upstream.weights import load_checked

FORMATS = ("s3prl", "hf")


def _write_base(upstream: LoadedUpstream, directory: Path) -> str:
    """Write the base model of ``upstream`` (adapters left out) into ``directory``; returns its name."""
    weights = base_weights(upstream.model)
    if upstream.family.startswith("s3prl_"):
        symbols = upstream.head.symbols if upstream.head is not None else None
        if upstream.arch == "hubert" and symbols is None:
            symbols = label_symbols(upstream.model)
        write_s3prl_checkpoint(directory / ModelDir.CHECKPOINT, upstream.arch, upstream.task_config,
                               upstream.model_config, weights, symbols)
        return ModelDir.CHECKPOINT
    import transformers

    from lamer.adapters import patch_state

    plain = upstream.model
    if patch_state(plain) is not None:  # save_pretrained would write the adapters under odd names
        plain = getattr(transformers, HF_MODEL_CLASSES[upstream.arch])(upstream.model.config)
        load_checked(plain, weights, upstream.source)
    write_hf_directory(plain, directory / "upstream", upstream.normalize)
    return "upstream"


def default_format(upstream: LoadedUpstream, merge: bool) -> str:
    """``hf`` for a merged export that transformers can express, else ``s3prl`` (what ESPnet loads)."""
    return "hf" if merge and upstream.model_config.get(EXTRACTOR_KEY) is None else "s3prl"


def espnet_frontend(s3prl_upstream: str, upstream_file: str, adapters: str | None) -> dict:
    """The ESPnet frontend (config entries, paths relative to the export) that loads an s3prl-format export.

    ESPnet's ``frontend: s3prl`` takes the upstream in its own ``frontend_conf`` (nested);
    ``frontend: lamer`` takes it, and the adapters, directly.
    """
    upstream = {"upstream": s3prl_upstream, "path_or_url": upstream_file}
    if adapters is None:
        frontend = {"frontend": "s3prl", "frontend_conf": {"frontend_conf": upstream}}
    else:
        frontend = {"frontend": "lamer", "frontend_conf": {**upstream, "adapters": adapters}}
    return {**frontend, "needs_lamer": adapters is not None or s3prl_upstream == LAMER_UPSTREAM}


def export_upstream(upstream: LoadedUpstream, out_dir: str | Path, fmt: str = "s3prl", merge: bool = False,
                    language: str | None = None) -> Path:
    """Export ``upstream`` (its model may carry Lamer adapters) to ``out_dir`` in format ``fmt``.

    ``fmt``: ``s3prl`` (converted checkpoint for ESPnet) or ``hf`` (transformers directory).
    ``merge``: fold the adapters in (ValueError where routing is per frame; ``language``
    picks the language of language routing). The input model is left unchanged. The
    directory is written under a temporary name and swapped in when complete.
    """
    from lamer.adapters import merge_adapters

    if fmt not in FORMATS:
        raise ValueError(f"export format {fmt!r}: choose one of {FORMATS}")
    if language is not None and not merge:
        raise ValueError("language only applies to a merged export (merge=True)")
    converted = convert_upstream(upstream, f"{fmt}_{upstream.arch}", fresh=True)
    if merge:
        merge_adapters(converted.model, language)
    try:
        with atomic_dir(out_dir) as tmp:
            _write_export(converted, tmp, fmt, merge, language, str(upstream.source))
    except (OSError, SafetensorError) as err:  # disk full, a file size limit (EFBIG), no permission
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        message = (f"{out_dir}: cannot write the export ({reason}); nothing was written and what was there is "
                   "unchanged: free disk space, raise the file size limit (ulimit -f) or choose another --out")
        raise OSError(message) from None
    return Path(out_dir)


def _write_export(converted: LoadedUpstream, directory: Path, fmt: str, merge: bool, language: str | None,
                  source: str) -> None:
    """The files of an export of ``converted`` (already in format ``fmt``) in ``directory``."""
    from lamer.adapters import patch_state, save_adapters

    patched = patch_state(converted.model) is not None
    base = _write_base(converted, directory)
    s3prl_upstream = s3prl_upstream_name(converted.arch, converted.model_config) if fmt == "s3prl" else None
    adapters = ModelDir.ADAPTERS if patched else None
    manifest = {
        "format": EXPORT_FORMAT,
        "upstream": base,
        "family": converted.family,
        "s3prl_upstream": s3prl_upstream,
        "adapters": adapters,
        "merged": merge,
        "language": language,
        "source": source,
        "espnet": espnet_frontend(s3prl_upstream, base, adapters) if s3prl_upstream else None,
    }
    if patched:
        save_adapters(converted.model, directory / ModelDir.ADAPTERS, extra={"exported_from": source})
    (directory / EXPORT_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def export_model(spec: str, out_dir: str | Path, adapters: str | None = None, *, sha256: str | None = None,
                 mismatch_fix: str = "", merge: bool = False, language: str | None = None, fmt: str | None = None,
                 check_fingerprint: bool = True, reinit_seed: int | None = None) -> tuple[Path, str]:
    """Export the upstream ``spec`` (a preset name or a local checkpoint) with the adapters directory
    ``adapters`` loaded into it (None: the base alone) to ``out_dir``; returns the directory and its
    format (``fmt``, default :func:`default_format`). With ``sha256`` the checkpoint file's SHA-256 is
    checked before anything loads it (ValueError naming both hashes, then ``mismatch_fix``);
    ``check_fingerprint`` False loads adapters trained on other base weights; ``reinit_seed`` exports
    the checkpoint's architecture with random weights instead (:func:`~lamer.upstream.convert.random_copy`;
    refused with ``adapters``). See :func:`export_upstream`."""
    from lamer.adapters import load_adapters
    from lamer.checksum import check_sha256
    from lamer.upstream import open_upstream

    if reinit_seed is not None and adapters:
        raise ValueError("a re-initialised export is of the base model: give --reinit or --adapters, not both")
    if sha256 is not None:
        check_sha256(spec, sha256, mismatch_fix)
    upstream = open_upstream(spec)
    if reinit_seed is not None:
        upstream = random_copy(upstream, reinit_seed)
    if adapters:
        load_adapters(upstream.model, adapters, check_fingerprint=check_fingerprint)
    fmt = fmt or default_format(upstream, merge)
    return export_upstream(upstream, out_dir, fmt=fmt, merge=merge, language=language), fmt


def _conf_options(conf: dict, out_dir: Path, prefix: str = "") -> list[str]:
    """ESPnet's ``--frontend_conf key.key=value`` options of ``conf``, its paths under ``out_dir``."""
    options = []
    for key, value in conf.items():
        if isinstance(value, dict):
            options += _conf_options(value, out_dir, f"{prefix}{key}.")
        else:
            value = out_dir / value if key in ("path_or_url", "adapters") else value
            options.append(f"--frontend_conf {prefix}{key}={value}")
    return options


def espnet_options(out_dir: str | Path) -> tuple[str, bool] | None:
    """The ESPnet options that load the export ``out_dir`` (``--frontend NAME --frontend_conf
    KEY=VALUE ...``, its paths under ``out_dir`` as given) and whether a plain ESPnet needs lamer's
    plugin for them, from its ``export.json``; None for an export ESPnet does not load (hf)."""
    out_dir = Path(out_dir)
    espnet = json.loads((out_dir / EXPORT_MANIFEST).read_text(encoding="utf-8"))["espnet"]
    if espnet is None:
        return None
    options = " ".join([f"--frontend {espnet['frontend']}", *_conf_options(espnet["frontend_conf"], out_dir)])
    return options, bool(espnet["needs_lamer"])
