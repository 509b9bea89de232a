"""The probe: a small ASR model trained on an SSL model's features, its data and its decoding."""
