"""espeak-ng text-to-speech through the shared library of :mod:`lamer.data.espeak_ng`.

There is one synthesiser per process (:func:`get_synthesizer`), since espeak-ng keeps its state
in process-wide globals. Its random numbers are seeded per utterance, but the phase of its pitch
flutter carries over from one utterance to the next and is not reset even by re-initialising:
the audio of an utterance is reproducible only when the same utterances are synthesised before
it in a fresh process (see :mod:`lamer.data.synth.corpus`). Converting text to phonemes
(:mod:`lamer.data.g2p`) in between does not change the audio.
"""
from __future__ import annotations

import ctypes
import functools

import numpy as np

from lamer.data.espeak_ng import espeak_library

# espeak_PARAMETER
_RATE, _PITCH, _RANGE, _WORDGAP = 1, 3, 4, 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
# espeak_EVENT_TYPE
_EVENT_LIST_TERMINATED, _EVENT_PHONEME = 0, 7


class _Event(ctypes.Structure):
    """espeak_EVENT; ``id`` is the union whose ``string`` names a phoneme event's phoneme."""

    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class EspeakSynthesizer:
    """Synthesise text to 16-bit mono audio at :attr:`sample_rate` (22050 Hz)."""

    def __init__(self) -> None:
        self._espeak = espeak_library()
        self._lib = self._espeak.lib
        self.sample_rate: int = self._espeak.sample_rate
        self._chunks: list[np.ndarray] = []
        self.spoken_phonemes: list[str] = []
        """The phonemes of the last :meth:`synthesize`, in IPA as espeak-ng's phoneme events name
        them: stress marks attached, pauses as empty names, language switches as ``(en)``, and a
        name cut at 8 bytes (the event's field), which only long IPA spellings reach."""
        # Keep a reference: the C library holds only the raw function pointer.
        self._callback = _SynthCallback(self._collect)
        self._lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: ctypes._Pointer[ctypes.c_short], num_samples: int,
                 events: ctypes._Pointer[_Event]) -> int:
        if wav and num_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            if events[i].type == _EVENT_PHONEME:
                name = ctypes.string_at(ctypes.addressof(events[i]) + _Event.id.offset, 8).split(b"\0")[0]
                self.spoken_phonemes.append(name.decode("utf-8", errors="replace"))
            i += 1
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
        Returns int16 samples at :attr:`sample_rate`; :attr:`spoken_phonemes` then holds what
        was said.
        """
        self._espeak.set_voice(voice)
        for parameter, value in ((_RATE, rate), (_PITCH, pitch), (_RANGE, pitch_range), (_WORDGAP, word_gap)):
            if self._lib.espeak_SetParameter(parameter, value, 0) != 0:
                raise ValueError(f"espeak-ng rejected parameter {parameter} = {value}")
        self._lib.espeak_ng_SetRandSeed(seed)
        self._chunks.clear()
        self.spoken_phonemes = []
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
