"""Continual self-supervised training: HuBERT masked prediction on a (Lamer-patched) upstream.

- ``targets``: features (MFCC or a layer of the current model), k-means codebooks, frame labels;
- ``masking`` / ``encoder`` / ``hubert_head`` / ``model``: span masking at the encoder input, the
  HuBERT prediction head and loss, the ESPnet model that ties them to an upstream;
- ``methods``: build the upstream and patch it for a method (full fine-tuning or adapters);
- ``growth``: stage chaining that freezes earlier experts and adds new ones;
- ``sampler``: the replay batch sampler;
- ``task``: the ESPnet task run by ``python -m lamer.bin.ssl_train``.
"""
