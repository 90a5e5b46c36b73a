"""Model and training configuration: frozen dataclasses, TOML files, `--key=value` overrides.

A config file has a `[model]` table (ModelConfig) and a `[train]` table (TrainConfig).
Overrides name a field as `model.dim=64` or `train.steps=100` (or just `steps=100` when
the name is unambiguous).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from hashhop.core.errors import HashhopError


class ConfigError(HashhopError):
    """A config file or override that cannot be used."""


@dataclass(frozen=True)
class ModelConfig:
    """The architecture. Both kinds share every parameter; `attention` only picks the masks."""

    dim: int = 128  # width of segment states
    heads: int = 4  # heads of the local mixer
    layers: int = 2  # local mixer blocks
    window: int = 4  # segments a mixer position sees (itself and window-1 before it)
    key_dim: int = 128  # width of retrieval queries and keys
    max_seg_len: int = 32  # characters of a segment that are embedded (longer ones are cut)
    mlp_ratio: int = 2
    keys: str = "content"  # "content": a selected window segment's content embedding; "mixed": a projection
    attention: str = "sparse"  # "sparse": local window + top-k global; "dense": full SDPA everywhere
    top_k: int = 8  # global positions a sparse retrieval step attends to
    train_len_segments: int = 512  # typical training context, for the log-length logit scale
    tail: int = 64  # last segments the question reader reads (the question sits at the end)
    reader_layers: int = 2  # full-attention blocks of the question reader
    max_steps: int = 16  # retrieval step counts the question reader chooses among (1..max_steps)
    rerank_dim: int = 0  # width of the per-character vectors that re-rank a step's top-k; 0: no re-ranking
    rerank_k: int = 64  # inference: a step's best keys that are re-ranked (training re-ranks its top_k)

    def __post_init__(self):
        if self.attention not in ("sparse", "dense"):
            raise ConfigError(f"model.attention must be 'sparse' or 'dense', got {self.attention!r}")
        if self.keys not in ("content", "mixed"):
            raise ConfigError(f"model.keys must be 'content' or 'mixed', got {self.keys!r}")
        if self.rerank_dim and self.keys != "content":
            raise ConfigError("model.rerank_dim needs model.keys = 'content' (it re-ranks the selected key segment)")
        if self.dim % self.heads:
            raise ConfigError(f"model.dim ({self.dim}) must be a multiple of model.heads ({self.heads})")


@dataclass(frozen=True)
class Stage:
    """One curriculum stage: `steps` steps of one task, hops and context growing linearly."""

    name: str  # "pairs" (1 hop), "cot" (every intermediate hash), "skip" (the final hash only)
    steps: int
    hops: tuple[int, int] = (1, 1)  # (min, max) hops asked, drawn per sample
    lines: tuple[int, int] = (32, 170)  # context lines at the stage's start and end
    skip_fraction: float = 1.0  # in a skip stage, the share of samples asked without steps
    distractors: int = 0  # decoys per queried hash (sharing a long prefix/suffix) in half of the samples


@dataclass(frozen=True)
class TrainConfig:
    batch: int = 16  # samples per step (per process under torchrun)
    queries: int = 16  # queries per sample
    lr: float = 3e-3
    min_lr: float = 1e-4
    warmup: int = 50
    clip: float = 1.0
    weight_decay: float = 0.0
    seed: int = 1  # training data seeds are seed*1_000_003 + step: never the evaluation seeds
    threads: int = 2
    log_every: int = 25
    checkpoint_every: int = 0  # save a checkpoint every N steps; 0: only at the end
    time_limit_s: float = 0.0  # stop early (and save) after this long; 0: no limit
    stages: tuple[Stage, ...] = (
        Stage("pairs", 600, (1, 1), (32, 170)),
        Stage("cot", 600, (2, 4), (64, 170)),
        Stage("skip", 800, (2, 4), (64, 170), 0.5),
    )

    @property
    def steps(self) -> int:
        return sum(s.steps for s in self.stages)


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        for stage in self.train.stages:
            if stage.hops[1] > self.model.max_steps:
                raise ConfigError(
                    f"stage {stage.name!r} asks up to {stage.hops[1]} hops, over model.max_steps "
                    f"({self.model.max_steps}): raise max_steps or lower the stage's hops"
                )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        return cls(model=model_config(d.get("model", {})), train=train_config(d.get("train", {})))


def _build(cls, d: dict, where: str):
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(f"unknown {where} field(s) {', '.join(unknown)}: known are {', '.join(sorted(known))}")
    return cls(**d)


def model_config(d: dict) -> ModelConfig:
    return _build(ModelConfig, dict(d), "model")


# Fields renamed since a checkpoint was written: old name -> new (config.json files keep the old one).
RENAMED = {"eval_every": "checkpoint_every"}


def train_config(d: dict) -> TrainConfig:
    d = {RENAMED.get(k, k): v for k, v in d.items()}
    if "stages" in d:
        d["stages"] = tuple(
            _build(Stage, {k: tuple(v) if isinstance(v, list) else v for k, v in s.items()}, "stage")
            for s in d["stages"]
        )
    return _build(TrainConfig, d, "train")


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # a bare word such as dense


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """`model.dim=64`, `train.steps=...`, or a bare field name that exists in one table."""
    raw = {"model": dict(raw.get("model", {})), "train": dict(raw.get("train", {}))}
    fields = {
        "model": {f.name for f in dataclasses.fields(ModelConfig)},
        "train": {f.name for f in dataclasses.fields(TrainConfig)},
    }
    for item in overrides:
        key, sep, value = item.lstrip("-").partition("=")
        if not sep:
            raise ConfigError(f"override {item!r} has no '=': write --key=value, e.g. --train.lr=0.001")
        table, dot, name = key.rpartition(".")
        name = RENAMED.get(name, name)
        tables = [table] if dot else [t for t in fields if name in fields[t]]
        if len(tables) != 1 or tables[0] not in fields or name not in fields[tables[0]]:
            raise ConfigError(f"unknown override {key!r}: use model.<field> or train.<field>")
        raw[tables[0]][name] = _parse_value(value)
    return raw


def load(path: str | Path | None, overrides: list[str] = ()) -> RunConfig:
    """Read a TOML config (or none: the defaults) and apply overrides."""
    raw: dict = {}
    if path is not None:
        try:
            import tomllib
        except ImportError:  # Python 3.10
            from hashhop.core.errors import require

            tomllib = require("tomli", "train")
        try:
            raw = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} not found: pass an existing TOML file to --config") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML ({exc}): fix the file") from None
    try:
        return RunConfig.from_dict(apply_overrides(raw, list(overrides)))
    except TypeError as exc:
        raise ConfigError(f"bad config value: {exc}") from None
