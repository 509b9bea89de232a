"""The record a corpus reader hands to data preparation: one utterance before audio conversion."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath


@dataclass(frozen=True)
class SourceUtterance:
    """An utterance as found in a corpus download.

    ``audio`` is the clip file, or the tar archive holding it when ``member`` names the clip
    inside that archive. ``origin`` (``file:line``) is where the row came from, for errors.
    ``expected_duration`` (seconds) is the clip's length as the corpus gives it, when it does,
    and ``duration_origin`` the ``file:line`` that gives it: a clip decoding to another length
    is damaged.
    """

    utt_id: str
    speaker: str
    lang: str
    text_raw: str
    audio: Path
    origin: str
    member: str | None = None
    expected_duration: float | None = None
    duration_origin: str | None = None

    def describe_audio(self) -> str:
        """Human-readable location of the clip, for error messages."""
        return f"{self.audio}[{self.member}]" if self.member else str(self.audio)


def escapes_folder(name: str) -> bool:
    """True when the relative audio name ``name`` from a metadata row could leave its folder:
    an absolute path (POSIX or Windows) or a ``..`` component. Such a row is refused rather than
    read, so a metadata file cannot make preparation read (and copy into a dump) any file."""
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        return True
    return ".." in PurePosixPath(name.replace("\\", "/")).parts


def links_outside(path: Path, real_folder: Path) -> Path | None:
    """Where ``path`` leads when a symbolic link (of the file or of a folder on the way) takes it
    out of ``real_folder`` (a folder with its own links resolved, ``folder.resolve()``); None
    when it stays inside. A corpus may link within itself, but a link must not pull a file from
    elsewhere (a home directory, another corpus) into the dump and the models trained on it."""
    real = path.resolve()
    return None if real.is_relative_to(real_folder) else real
