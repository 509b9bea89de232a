"""lamer: Layer-Aware MixturE of LoRA experts for continual multilingual SSL speech models."""

__version__ = "0.1.0"
