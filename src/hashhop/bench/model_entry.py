"""A model of a bench run: `ModelEntry` (the model, its backend options, limits and prices) and
`model_entry`, which reads one `[[models]]` table of a sweep file. Keys are read from the
environment variable a model names (`api_key_env`), never from the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from hashhop.bench.sweep_values import number, reject_unknown, strings
from hashhop.core.errors import SweepError
from hashhop.evaluate.cost import Prices, load_prices

MODEL_KEYS = (
    "model",
    "name",
    "base_url",
    "api_key_env",
    "concurrency",
    "price_in",
    "price_out",
    "price_cached",
    "price_cache_read",
    "price_cache_write",
    "max_cost",
    "timeout",
    "retries",
    "max_tokens",
    "options",
    "batch",
    "batch_discount",
    "min_coverage",
)


@dataclass(frozen=True)
class ModelEntry:
    """One model of a bench run and how to call it."""

    model: str  # BACKEND:MODEL, e.g. openai:gpt-4o-mini, ltm:builtin, oracle
    options: dict = field(default_factory=dict)  # backend options (-M key=value)
    name: str | None = None  # run folder under -o (default: from the model)
    base_url: str | None = None
    api_key_env: str | None = None  # the NAME of the variable holding the key
    concurrency: int = 8
    price_in: float | None = None  # USD per million prompt tokens
    price_out: float | None = None
    price_cached: float | None = None  # USD per million cached input tokens read (OpenAI-style)
    price_cache_read: float | None = None  # the same price, Anthropic's name; wins over price_cached
    price_cache_write: float | None = None  # USD per million tokens written to the cache (Anthropic)
    max_cost: float | None = None  # USD: no request is sent that could take the run folder's spend past it
    timeout: float = 300.0
    retries: int = 4
    max_tokens: int | None = None
    backoff: float = 1.0  # first retry wait, seconds (not a sweep file key: eval's --backoff)
    pricing: str | None = None  # pricing file (not a sweep file key: eval's --pricing)
    batch: bool = False  # send through the provider's batch API (evaluate/batch.py)
    batch_discount: float | None = None  # batch price / synchronous price; None: the pricing file's, else 0.5
    batch_poll: float = 5.0  # first wait between polls of a batch, seconds (not a sweep file key: eval's --batch-poll)
    min_coverage: float | None = None  # this model's minimum share of scored queries; None: the run's

    @property
    def cache_read_price(self) -> float | None:
        return self.price_cache_read if self.price_cache_read is not None else self.price_cached

    def prices(self) -> Prices:
        """This model's prices: the flags or sweep keys, over its pricing file."""
        return load_prices(
            self.model, self.price_in, self.price_out, self.pricing, self.cache_read_price, self.price_cache_write
        )

    def backend_options(self) -> dict:
        extra = {"base_url": self.base_url, "api_key_env": self.api_key_env}
        return {**self.options, **{k: v for k, v in extra.items() if v is not None}}

    @property
    def folder(self) -> str:
        """Run folder name: `name`, else the model with anything unsafe in a path replaced."""
        return self.name or re.sub(r"[^A-Za-z0-9._-]+", "-", self.model).strip("-.") or "model"

    def missing_key(self) -> str | None:
        """The named key variable when it is not set, else None."""
        if self.api_key_env and not os.environ.get(self.api_key_env):
            return self.api_key_env
        return None

    def check_env(self, where: str = "") -> None:
        missing = self.missing_key()
        if missing:
            raise SweepError(
                f"{where}model {self.model}: the key variable {missing} is not set: export {missing}=... "
                f"(api_key_env names the variable, the key itself never goes in a file)"
            )


def _batch_keys(where: str, item: dict) -> dict:
    """`batch = true` and `batch_discount = 0.5` of a model table, checked."""
    kw: dict = {}
    if "batch" in item:
        if not isinstance(item["batch"], bool):
            raise SweepError(f"{where}: batch must be true or false, not {item['batch']!r}")
        kw["batch"] = item["batch"]
    if "batch_discount" in item:
        kw["batch_discount"] = number(where, "batch_discount", item["batch_discount"], float, 0.001)
        if kw["batch_discount"] > 1:
            raise SweepError(f"{where}: batch_discount {kw['batch_discount']:g} is over 1: e.g. batch_discount = 0.5")
    return kw


def _coverage_key(where: str, item: dict) -> dict:
    """`min_coverage = 0.5` of a model table: a fraction between 0 and 1."""
    if "min_coverage" not in item:
        return {}
    value = number(where, "min_coverage", item["min_coverage"], float, 0)
    if value > 1:
        raise SweepError(f"{where}: min_coverage {value:g} is over 1: use a fraction, e.g. 0.9")
    return {"min_coverage": value}


def model_entry(where: str, item) -> ModelEntry:
    """One `[[models]]` table (or a bare model string) as a ModelEntry."""
    if isinstance(item, str):
        item = {"model": item}
    if not isinstance(item, dict) or not isinstance(item.get("model"), str) or not item["model"]:
        raise SweepError(f'{where}: each model needs model = "BACKEND:MODEL", e.g. model = "oracle"')
    reject_unknown(f"{where} ({item['model']})", item, MODEL_KEYS)
    w = f"{where} ({item['model']})"
    kw: dict = {"model": item["model"]}
    for key in ("name", "base_url", "api_key_env"):
        if key in item:
            kw[key] = strings(w, key, item[key])[0]
    numbers = {
        "concurrency": (int, 1),
        "retries": (int, 0),
        "max_tokens": (int, 1),
        "timeout": (float, 0.001),
        "price_in": (float, 0),
        "price_out": (float, 0),
        "price_cached": (float, 0),
        "price_cache_read": (float, 0),
        "price_cache_write": (float, 0),
        "max_cost": (float, 0),
    }
    for key, (kind, minimum) in numbers.items():
        if key in item:
            kw[key] = number(w, key, item[key], kind, minimum)
    kw.update(_batch_keys(w, item) | _coverage_key(w, item))
    if "options" in item:
        if not isinstance(item["options"], dict):
            raise SweepError(f'{w}: options must be a table of backend options, e.g. options = {{ api = "chat" }}')
        kw["options"] = dict(item["options"])
    if "name" in kw and (not re.fullmatch(r"[A-Za-z0-9._ -]+", kw["name"]) or kw["name"].strip(". ") == ""):
        # The name is a folder under -o: one plain path component, never `..`, `/x` or `a/../b`.
        raise SweepError(f"{w}: bad name {kw['name']!r}: use letters, digits, '.', '_' or '-' (it names a folder)")
    if kw.get("api_key_env") and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", kw["api_key_env"]):
        raise SweepError(
            f"{w}: api_key_env must be the NAME of an environment variable (like OPENAI_API_KEY), not the key itself"
        )
    return ModelEntry(**kw)
