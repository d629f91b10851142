"""Latency as a target: per-layer latency tables measured on the user's device and cached on
disk (``table``), a prediction of a pruned model's latency from them (``predict``), and the
interleaved measurement that checks the prediction on the real models (``compare``). See
docs/guide.md, "Latency as a target"."""
