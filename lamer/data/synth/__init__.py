"""Synthetic multilingual speech corpus for the demo and the tests, in the real corpus layouts.

espeak-ng reads word-salad sentences drawn from wordfreq's word lists in up to 12 languages
(:data:`LANGUAGES`), with one pool of synthetic speakers shared by all of them; the result is
written both as a Common Voice release and as a FLEURS download, so the toolkit's own readers
take it like real data. Entry point: ``python -m lamer.bin.synth_corpus``.

Licences: espeak-ng (the ``libespeak-ng`` library and data inside the ``espeakng-loader``
wheel) is GPL-3.0-or-later. It is loaded at run time only, by this optional demo generator and
by the phone error rate's G2P (:mod:`lamer.data.espeak_ng`), and not distributed with lamer;
install it with ``pip install espeakng-loader`` (the ``demo`` extra). wordfreq's word lists are
CC BY-SA 4.0.

The language table (:mod:`lamer.data.synth.language_table`) is read by scoring too, so importing the
package loads the generator (wordfreq, audio encoders) only when ``generate_corpus`` or
``SynthConfig`` is first used.
"""
from __future__ import annotations

import importlib

from lamer.data.synth.language_table import LANGUAGES, SynthLanguage

__all__ = ["LANGUAGES", "SynthConfig", "SynthLanguage", "generate_corpus"]
_LAZY = {"generate_corpus": "lamer.data.synth.corpus", "SynthConfig": "lamer.data.synth.corpus_plan"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
