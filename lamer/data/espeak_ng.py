"""The espeak-ng library (its C API through ctypes), from the optional ``espeakng-loader`` wheel.

The wheel ships ``libespeak-ng.so`` and its ``espeak-ng-data`` folder; nothing is installed
system-wide. espeak-ng keeps its state in process-wide globals (the current voice, the synthesis
callback, its phoneme translator), so the library is loaded and initialised once per process
(:func:`espeak_library`) and shared by its two users: the synthesiser of the demo corpus
(:mod:`lamer.data.synth.espeak`) and the grapheme-to-phoneme conversion of the phone error rate
(:mod:`lamer.data.g2p`).

It is initialised for synchronous synthesis with phoneme events in IPA, so that a synthesis
callback also learns which phonemes were spoken; events do not change the audio (measured: the
same samples, bit for bit, for 480 sentences in 12 languages with and without them).

Licence: espeak-ng is GPL-3.0-or-later. It is loaded at run time only, never linked or
distributed with lamer; install it with ``pip install espeakng-loader`` (the ``demo`` extra).
"""
from __future__ import annotations

import ctypes
import functools
import importlib.metadata
import importlib.util
from pathlib import PurePosixPath

INSTALL_HINT = "tools/venv/bin/pip install espeakng-loader (or pip install -e '.[demo]')"

# espeak_AUDIO_OUTPUT: samples go to the callback and espeak_Synth returns when all are done.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
# espeakINITIALIZE_PHONEME_EVENTS | espeakINITIALIZE_PHONEME_IPA
_PHONEME_EVENTS_IN_IPA = 0x0001 | 0x0002


class _Voice(ctypes.Structure):
    """espeak_VOICE, as espeak_ListVoices returns it."""

    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p), ("identifier", ctypes.c_char_p),
                ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


def require_espeak(purpose: str) -> None:
    """Raise ``ModuleNotFoundError`` saying that ``purpose`` needs espeak-ng and how to install it,
    when espeakng-loader is missing."""
    if importlib.util.find_spec("espeakng_loader") is None:
        raise ModuleNotFoundError(
            f"{purpose} needs espeak-ng from the optional espeakng-loader package (GPL-3.0): {INSTALL_HINT}",
            name="espeakng_loader",
        )


class EspeakLibrary:
    """The loaded and initialised ``libespeak-ng``: :attr:`lib` with the argument types of the
    functions lamer calls set, and the :attr:`sample_rate` of its audio."""

    def __init__(self) -> None:
        import espeakng_loader  # optional dependency (GPL-3.0 library inside)

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        data_path = espeakng_loader.get_data_path().encode()
        self.sample_rate: int = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, _PHONEME_EVENTS_IN_IPA)
        if self.sample_rate <= 0:
            raise RuntimeError(f"espeak-ng failed to initialise with data {data_path.decode()}")
        self.lib = lib

    def set_voice(self, voice: str) -> None:
        """Make ``voice`` (``"fr"``, ``"fr+m3"``: language voice + variant) the current voice;
        ``ValueError`` when espeak-ng has no such voice."""
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r} in its data folder")

    @functools.cached_property
    def version(self) -> str:
        """``espeak-ng <version> (espeakng-loader <version>)``: what produced the audio or phones."""
        data = ctypes.c_char_p()
        espeak = self.lib.espeak_Info(ctypes.byref(data)).decode()
        return f"espeak-ng {espeak} (espeakng-loader {importlib.metadata.version('espeakng-loader')})"

    @functools.cached_property
    def voices(self) -> frozenset[str]:
        """The language voices of the data folder, lower-case, as :meth:`set_voice` takes them
        (``en-us``, ``cmn``, ``vi``)."""
        listed = self.lib.espeak_ListVoices(None)
        names = set()
        for i in range(10_000):  # the list ends with a null pointer; the bound only guards a broken library
            if not listed[i]:
                break
            names.add(PurePosixPath(listed[i].contents.identifier.decode()).name.lower())
        return frozenset(names)


@functools.lru_cache(maxsize=1)
def espeak_library() -> EspeakLibrary:
    """The process's espeak-ng library, loaded and initialised on first use."""
    return EspeakLibrary()
