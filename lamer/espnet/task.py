"""Register the Lamer frontend with ESPnet's ASR task (``frontend: lamer``).

ESPnet's ``ASRTask`` builds its frontend from the module-level ``frontend_choices``: both the
argument parser (``--frontend``) and ``build_model`` read it. Adding one entry there before
ESPnet's own ``main`` runs is all the bridge needs; training, inference, checkpoints and
resume stay ESPnet's.
"""
from __future__ import annotations

FRONTEND_NAME = "lamer"


def register_lamer_frontend() -> None:
    """Make ``frontend: lamer`` a choice of ESPnet's ASR task (idempotent)."""
    from espnet2.tasks.asr import frontend_choices

    from lamer.espnet.frontend import LamerS3prlFrontend

    registered = frontend_choices.classes.get(FRONTEND_NAME)
    if registered is not None and registered is not LamerS3prlFrontend:
        raise RuntimeError(f"ESPnet already has a frontend named {FRONTEND_NAME!r}: {registered}")
    frontend_choices.classes[FRONTEND_NAME] = LamerS3prlFrontend
