"""Synthetic multilingual speech corpus for the demo and the tests, in the real corpus layouts.

espeak-ng reads word-salad sentences drawn from wordfreq's word lists in up to 12 languages
(:data:`LANGUAGES`), with one pool of synthetic speakers shared by all of them; the result is
written both as a Common Voice release and as a FLEURS download, so the toolkit's own readers
take it like real data. Entry point: ``python -m lamer.bin.synth_corpus``.

Licences: espeak-ng (the ``libespeak-ng`` library and data inside the ``espeakng-loader``
wheel) is GPL-3.0-or-later. It is loaded at run time only by this optional demo generator,
never imported by the rest of lamer, and not distributed with lamer; install it with
``pip install espeakng-loader`` (the ``demo`` extra). wordfreq's word lists are CC BY-SA 4.0.
"""
from lamer.data.synth.corpus import generate_corpus
from lamer.data.synth.languages import LANGUAGES, SynthLanguage
from lamer.data.synth.plan import SynthConfig

__all__ = ["LANGUAGES", "SynthConfig", "SynthLanguage", "generate_corpus"]
