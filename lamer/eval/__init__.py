"""Evaluation: per-language CER, PER and LID scoring, the results matrix across continual stages,
forgetting metrics, RESULTS.md and the plots a reader looks at first.

Modules: ``kaldi_text`` (reading text/utt2lang), ``scoring`` (CER, PER, LID, confusion),
``results`` (the stages x languages matrix), ``forgetting`` (avg CER, BWT, FWT, IM; of PER too;
CL-MASR's AWER, BWT and IM beside them), ``report`` (RESULTS.md), ``plots`` (PNG figures),
``probe_health`` (the probes' validation CER per epoch), ``routing`` (router entropy and divergence),
``expert_usage`` (expert usage per layer and language on dev sets), ``routing_ceiling`` (how well
the routers' inputs could tell languages apart), ``lamer.atomic`` (atomic file output, shared).
"""


class EvalInputError(ValueError):
    """Input to the evaluation tools is malformed; the message names the file, line or key."""
