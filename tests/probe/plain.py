"""Plain ESPnet in a new Python process, as its users run it: lamer installed with its ESPnet plugin
(the .pth file, read by Python's own ``site`` machinery), and no lamer module imported by hand.

Run as ``python -m tests.probe.plain ZIP OUT_DIR WAV_SCP DECODE_CONFIG`` it is what a user of
ESPnet writes to decode a packed model: ESPnet's ``unpack``, then ``Speech2Text``; it prints the
hypotheses as JSON.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[2]
# site.addsitedir reads the .pth files of a folder exactly as Python does for site-packages at start-up
BOOT = ("import runpy, site, sys; site.addsitedir(sys.argv[1]); sys.argv = sys.argv[2:]; "
        "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)")


def install_plugin(site_dir: Path) -> Path:
    """``python -m lamer.bin.espnet_plugin install`` into ``site_dir`` (a stand-in for site-packages)."""
    from lamer.bin import espnet_plugin

    site_dir.mkdir(parents=True, exist_ok=True)
    assert espnet_plugin.main(["install", "--site_dir", str(site_dir)]) == 0
    return site_dir


def run_plain(site_dir: Path, module: str, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """``python -m MODULE ARGS`` in a new process that also reads the .pth files of ``site_dir``."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", BOOT, str(site_dir), module, *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def speech2text_hypotheses(options: dict, wav_scp: Path, decode_config: Path) -> dict[str, str]:
    """``Speech2Text(**options)`` with the decoding options of ``decode_config``, one utterance at a time."""
    import soundfile
    import yaml
    from espnet2.bin.asr_inference import Speech2Text

    decoding = yaml.safe_load(Path(decode_config).read_text(encoding="utf-8"))
    decoding.pop("batch_size", None)
    speech2text = Speech2Text(**options, device="cpu", **decoding)
    hypotheses = {}
    for line in Path(wav_scp).read_text(encoding="utf-8").splitlines():
        utt, path = line.split(maxsplit=1)
        speech, _ = soundfile.read(path, dtype="float32")
        hypotheses[utt] = speech2text(speech)[0][0]
    return hypotheses


if __name__ == "__main__":
    from espnet2.main_funcs.pack_funcs import unpack

    archive, out_dir, wav_scp, decode_config = sys.argv[1:5]
    print(json.dumps(speech2text_hypotheses(unpack(archive, out_dir), Path(wav_scp), Path(decode_config))))
