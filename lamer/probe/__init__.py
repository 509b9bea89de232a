"""The downstream probe: ASR+LID models trained by ESPnet on a frozen, Lamer-patched s3prl upstream.

Model:
- ``frontend``: ``LamerS3prlFrontend``, ESPnet's S3prlFrontend with saved Lamer adapters;
- ``s3prl_expert``: ``upstream: lamer_local``, s3prl's expert for lamer's checkpoints;
- ``lid_head`` / ``lid_model``: the utterance-level language classifier, ``model: lamer_lid``;
- ``asr_task``: registers them as choices of ESPnet's ASR task
  (``python -m lamer.bin.asr_train`` / ``asr_inference`` are ESPnet's own, plus that);
- ``espnet_plugin``: the same names in a plain ESPnet (``python -m lamer.bin.espnet_plugin install``);
- ``pack``: a probe packed by ESPnet's ``pack`` with its upstream and adapters, and read back safely;
- ``override``: the ``fixed`` protocol, a trained probe decoded with other adapters.

Data:
- ``inputs``: ``[iso] TRANSCRIPT`` probe dirs and token lists from Kaldi data dirs;
- ``data_options``: ESPnet's data options checked before ESPnet reads them.

Decoding:
- ``decode_split``: a decoding job's share of a test set, and its merged outputs;
- ``greedy``: batched greedy CTC decoding;
- ``inference``: a decoding run (``bin/asr_inference``'s library): its jobs, split decoding, the
  ``fixed`` protocol's override and the LID pass;
- ``lid_output``: the language classifier's ``1best_recog/lid``; ``lid_classify``: the classifier run alone
  after ESPnet's beam search.

ESPnet's loads and YAML are made safe by :mod:`lamer.runtime`, which our entry points enter.
ESPnet is imported only by the modules that need it (``import espnet2.tasks.asr`` takes ~20 s).
"""
