"""The record a corpus reader hands to data preparation: one utterance before audio conversion."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SourceUtterance:
    """An utterance as found in a corpus download.

    ``audio`` is the clip file, or the tar archive holding it when ``member`` names the clip
    inside that archive. ``origin`` (``file:line``) is where the row came from, for errors.
    """

    utt_id: str
    speaker: str
    lang: str
    text_raw: str
    audio: Path
    origin: str
    member: str | None = None

    def describe_audio(self) -> str:
        """Human-readable location of the clip, for error messages."""
        return f"{self.audio}[{self.member}]" if self.member else str(self.audio)
