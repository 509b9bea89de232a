"""espeak-ng text-to-speech through its C API (ctypes), from the ``espeakng-loader`` wheel.

The wheel ships ``libespeak-ng.so`` and its ``espeak-ng-data`` folder; nothing is installed
system-wide. espeak-ng keeps its state in process-wide globals, so there is one synthesiser per
process (:func:`get_synthesizer`). Its random numbers are seeded per utterance, but the phase of
its pitch flutter carries over from one utterance to the next and is not reset even by
re-initialising: the audio of an utterance is reproducible only when the same utterances are
synthesised before it in a fresh process (see :mod:`lamer.data.synth.corpus`).
"""
from __future__ import annotations

import ctypes
import functools
import importlib.util

import numpy as np

# espeak_AUDIO_OUTPUT: samples go to the callback and espeak_Synth returns when all are done.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
# espeak_PARAMETER
_RATE, _PITCH, _RANGE, _WORDGAP = 1, 3, 4, 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def require_espeak() -> None:
    """Raise ``ModuleNotFoundError`` with install instructions when espeakng-loader is missing."""
    if importlib.util.find_spec("espeakng_loader") is None:
        raise ModuleNotFoundError(
            "the synthetic corpus needs espeak-ng from the optional espeakng-loader package "
            "(GPL-3.0): tools/venv/bin/pip install espeakng-loader",
            name="espeakng_loader",
        )


class EspeakSynthesizer:
    """Synthesise text to 16-bit mono audio at :attr:`sample_rate` (22050 Hz)."""

    def __init__(self) -> None:
        import espeakng_loader  # optional demo dependency (GPL-3.0 library inside)

        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        data_path = espeakng_loader.get_data_path().encode()
        self.sample_rate: int = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0)
        if self.sample_rate <= 0:
            raise RuntimeError(f"espeak-ng failed to initialise with data {data_path.decode()}")
        self._chunks: list[np.ndarray] = []
        # Keep a reference: the C library holds only the raw function pointer.
        self._callback = _SynthCallback(self._collect)
        self._lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: ctypes._Pointer[ctypes.c_short], num_samples: int, _events: int) -> int:
        if wav and num_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        return 0

    def synthesize(
        self,
        text: str,
        voice: str,
        *,
        rate: int,
        pitch: int,
        pitch_range: int,
        word_gap: int,
        seed: int,
    ) -> np.ndarray:
        """Speak ``text`` with ``voice`` (``"fr+m3"``: language voice + variant).

        ``rate`` in words per minute (80-450), ``pitch`` and ``pitch_range`` on 0-100,
        ``word_gap`` in 10 ms units; ``seed`` seeds espeak-ng's noise (breathy voices).
        Returns int16 samples at :attr:`sample_rate`.
        """
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r} in its data folder")
        for parameter, value in ((_RATE, rate), (_PITCH, pitch), (_RANGE, pitch_range), (_WORDGAP, word_gap)):
            if self._lib.espeak_SetParameter(parameter, value, 0) != 0:
                raise ValueError(f"espeak-ng rejected parameter {parameter} = {value}")
        self._lib.espeak_ng_SetRandSeed(seed)
        self._chunks.clear()
        encoded = text.encode("utf-8") + b"\0"
        status = self._lib.espeak_Synth(encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if status != 0 or self._lib.espeak_Synchronize() != 0:
            raise RuntimeError(f"espeak-ng failed (status {status}) on {text!r} with voice {voice!r}")
        if not self._chunks:
            raise RuntimeError(f"espeak-ng produced no audio for {text!r} with voice {voice!r}")
        return np.concatenate(self._chunks)


@functools.lru_cache(maxsize=1)
def get_synthesizer() -> EspeakSynthesizer:
    """The process's espeak-ng synthesiser, initialised on first use."""
    return EspeakSynthesizer()
