"""Checkpoints: safetensors weights + a JSON config. Loading never executes code from the file.

`save` writes `model.safetensors` and `config.json` atomically (temp file + os.replace);
`load` checks that the weights match the config's architecture and says which tensor does not.
"""

from __future__ import annotations

import json
from pathlib import Path

from hashhop.core.errors import HashhopError, require
from hashhop.core.files import write_atomic

from .config import ConfigError, ModelConfig, RunConfig

WEIGHTS, CONFIG = "model.safetensors", "config.json"
BUILTIN = Path(__file__).parent / "builtin"


class CheckpointError(HashhopError):
    """A checkpoint that is missing, unreadable, or does not match its config."""


def save(model, run: RunConfig, out_dir: str | Path, extra: dict | None = None):
    """Write weights and config to `out_dir` (created if needed)."""
    st = require("safetensors.torch", "train")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    write_atomic(str(out / WEIGHTS), st.save(tensors), sync=False)
    meta = {"format": "hashhop_train/1", **run.to_dict(), **(extra or {})}
    write_atomic(str(out / CONFIG), json.dumps(meta, indent=2).encode(), sync=False)


def resolve(path: str | Path) -> Path:
    """`builtin` or a checkpoint directory (or its config.json / model.safetensors)."""
    p = BUILTIN if str(path) == "builtin" else Path(path)
    if p.is_file():
        p = p.parent
    if not (p / CONFIG).is_file() or not (p / WEIGHTS).is_file():
        raise CheckpointError(
            f"no checkpoint at {p}: expected {CONFIG} and {WEIGHTS} there "
            f"(train one with `hashhop train --config FILE --out DIR`)"
        )
    return p


def load(path: str | Path, **model_overrides):
    """(model, run config, metadata) from a checkpoint directory or `builtin`, on CPU, eval mode."""
    require("torch", "train")
    st = require("safetensors.torch", "train")
    from .model import HopModel

    p = resolve(path)
    meta = json.loads((p / CONFIG).read_text())
    try:
        run = RunConfig.from_dict({"model": meta.get("model", {}), "train": meta.get("train", {})})
        model_cfg = ModelConfig(**{**run.model.__dict__, **model_overrides})
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {p} has a config this version cannot read ({exc})") from None
    model = HopModel(model_cfg)
    try:
        tensors = st.load_file(str(p / WEIGHTS))
    except Exception as exc:  # SafetensorError, OSError: not safetensors (a pickle is never unpickled)
        raise CheckpointError(
            f"checkpoint {p / WEIGHTS} is not a safetensors file ({' '.join(str(exc).split())[:120]}): "
            f"re-save it with hashhop_train.checkpoint.save; pickled weights are never loaded"
        ) from None
    _check_shapes(model.state_dict(), tensors, p)
    model.load_state_dict(tensors)
    model.eval()
    return model, run, meta


def _check_shapes(expected: dict, got: dict, where: Path):
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {where} does not match its config.json: missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}; retrain or fix config.json"
        )
    for name, tensor in expected.items():
        if tuple(got[name].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"checkpoint {where} does not match its config.json: {name} has shape "
                f"{tuple(got[name].shape)}, the config needs {tuple(tensor.shape)}; "
                f"retrain or fix config.json"
            )
