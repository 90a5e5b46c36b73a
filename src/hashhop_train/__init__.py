"""hashhop_train: a small long-context model trained on HashHop (issue 5).

A separate package: it uses the `hashhop` generator, and the core `hashhop` package never
imports it. Needs the `train` extra (torch, safetensors). See docs/model.md.
"""

__all__ = ["config", "segments", "model", "data", "train", "checkpoint", "infer", "evaluate", "backend"]
