"""Evaluation: per-language CER, PER and LID scoring, the results matrix across continual stages,
forgetting metrics, RESULTS.md and the plots a reader looks at first.

Modules: ``kaldi_text`` (reading text/utt2lang), ``scoring`` (CER, PER, LID, confusion),
``results`` (the stages x languages matrix), ``forgetting`` (avg CER, BWT, FWT, IM; of PER too;
CL-MASR's AWER, BWT and IM beside them), ``report`` (RESULTS.md), ``plots`` (PNG figures),
``lamer.atomic`` (atomic file output, shared).
"""


class EvalInputError(ValueError):
    """Input to the evaluation tools is malformed; the message names the file, line or key."""
