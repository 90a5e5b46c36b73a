"""Sweep files: a custom bench grid (TOML, or YAML when PyYAML is installed) and the models to run on it.

Owns `ModelEntry` (one model with its options: base_url, api_key_env, concurrency, prices),
`Sweep` (a Grid, its recorded tag, the models) and `load_sweep(path)`. Every problem in a file is a
one-line `SweepError` naming the file, the key and the fix; unknown keys list the known ones. Keys
are read from the environment variable a model names (`api_key_env`), never from the file.
The format, with an example, is in docs/bench.md.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from hashhop.bench.suites import Grid, get_suite
from hashhop.core.errors import HashhopError, SweepError
from hashhop.generate.spec import parse_size

TOP_KEYS = ("name", "suite", "grid", "models")
GRID_KEYS = (
    "lengths",
    "hops",
    "cot",
    "depth",
    "order",
    "seeds",
    "hash_len",
    "alphabet",
    "format",
    "samples",
    "queries",
    "tokenizer",
)
MODEL_KEYS = (
    "model",
    "name",
    "base_url",
    "api_key_env",
    "concurrency",
    "price_in",
    "price_out",
    "max_cost",
    "timeout",
    "retries",
    "max_tokens",
    "options",
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
    max_cost: float | None = None  # USD: no request is sent that could take the run folder's spend past it
    timeout: float = 300.0
    retries: int = 4
    max_tokens: int | None = None
    backoff: float = 1.0  # first retry wait, seconds (not a sweep file key: eval's --backoff)
    pricing: str | None = None  # pricing file (not a sweep file key: eval's --pricing)

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


@dataclass(frozen=True)
class Sweep:
    name: str
    tag: str  # recorded in every cell: a suite's `name@version`, or `sweep:NAME`
    grid: Grid
    models: tuple[ModelEntry, ...]
    path: str | None = None

    def check_env(self) -> None:
        """Every named key variable is set (checked before anything is called)."""
        for m in self.models:
            m.check_env(f"{self.path}: " if self.path else "")


# -- reading -------------------------------------------------------------------------------
def _parse_text(path: str, raw: bytes) -> dict:
    if path.endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:
            raise SweepError(f"{path}: YAML sweep files need PyYAML: pip install pyyaml, or write it in TOML") from None
        try:
            data = yaml.safe_load(raw.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise SweepError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from exc
    else:
        try:
            import tomllib
        except ImportError:  # Python 3.10
            tomllib = _tomli(path)
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SweepError(f"{path} is not valid TOML: {exc}") from exc
    if not isinstance(data, dict):
        raise SweepError(f"{path}: a sweep file is a table of name, suite, grid and models")
    return data


def _tomli(path: str):
    try:
        import tomli
    except ImportError:
        raise SweepError(f"{path}: TOML needs Python 3.11+ or `pip install tomli`") from None
    return tomli


def _unknown(where: str, table: dict, known: tuple[str, ...]) -> None:
    # YAML allows keys that are not strings (`1: x`, `null: x`): name them, never compare them.
    unknown = sorted(k if isinstance(k, str) and k.isprintable() else repr(k) for k in set(table) - set(known))
    if "api_key" in unknown:
        raise SweepError(
            f'{where}: never put a key in a sweep file: export it and name the variable with api_key_env = "NAME"'
        )
    if unknown:
        raise SweepError(f"{where}: unknown key(s) {', '.join(unknown)}: known keys are {', '.join(known)}")


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _ints(where: str, key: str, value, minimum: int) -> tuple[int, ...]:
    out = []
    for v in _as_list(value):
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise SweepError(f"{where}: bad {key} {v!r}: use whole numbers >= {minimum}, e.g. {key} = [{minimum}]")
        out.append(v)
    return tuple(out)


def _lengths(where: str, value) -> tuple[int, ...]:
    out = []
    for v in _as_list(value):
        try:
            n = parse_size(v) if isinstance(v, (int, str)) and not isinstance(v, bool) else None
        except HashhopError:
            n = None
        if not n or n < 1:
            raise SweepError(f'{where}: bad length {v!r}: use sizes like "4K", "1M" or 2000')
        out.append(n)
    return tuple(out)


def _cots(where: str, value) -> tuple[bool, ...]:
    words = {"cot": (True,), "skip": (False,), "both": (True, False), True: (True,), False: (False,)}
    out: list[bool] = []
    for v in _as_list(value):
        if isinstance(v, (bool, str)) and v in words:
            out += words[v]
        else:
            raise SweepError(f'{where}: bad cot {v!r}: use true, false, "cot", "skip" or "both"')
    return tuple(dict.fromkeys(out))


def _depths(where: str, value) -> tuple[float | None, ...]:
    out = []
    for v in _as_list(value):
        if v is None or v == "any":
            out.append(None)
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1:
            out.append(float(v))
        else:
            raise SweepError(f'{where}: bad depth {v!r}: use fractions in [0, 1] (0 = top of the context) or "any"')
    return tuple(out)


def _strings(where: str, key: str, value) -> tuple[str, ...]:
    out = _as_list(value)
    if not out or not all(isinstance(v, str) and v for v in out):  # an empty list names nothing
        raise SweepError(f'{where}: bad {key} {value!r}: use a list of names, e.g. {key} = ["letters"]')
    return tuple(out)


def _grid(where: str, table: dict, base: Grid | None) -> Grid:
    _unknown(where, table, GRID_KEYS)
    changes: dict = {}
    parsers = {
        "lengths": ("lengths", lambda v: _lengths(where, v)),
        "hops": ("hops", lambda v: _ints(where, "hops", v, 1)),
        "cot": ("cot", lambda v: _cots(where, v)),
        "depth": ("depths", lambda v: _depths(where, v)),
        "order": ("orders", lambda v: _strings(where, "order", v)),  # checked by Grid: shuffled, forward, backward
        "seeds": ("seeds", lambda v: _ints(where, "seeds", v, 0)),
        "hash_len": ("hash_lens", lambda v: _ints(where, "hash_len", v, 1)),
        "alphabet": ("alphabets", lambda v: _strings(where, "alphabet", v)),
        "samples": ("samples", lambda v: _ints(where, "samples", v, 1)[0]),
        "queries": ("queries", lambda v: _ints(where, "queries", v, 1)[0]),
        "format": ("format", lambda v: _strings(where, "format", v)[0]),
        "tokenizer": ("tokenizer", lambda v: _strings(where, "tokenizer", v)[0]),
    }
    for key, value in table.items():
        name, parse = parsers[key]
        changes[name] = parse(value)
    if base is None:
        missing = [k for k in ("lengths", "hops") if k not in table]
        if missing:
            raise SweepError(
                f'{where}: missing {" and ".join(missing)}: give them, or start from a suite with suite = "quick"'
            )
    try:
        grid = (base or Grid(lengths=changes.pop("lengths"), hops=changes.pop("hops"))).replace(**changes)
        for alphabet in grid.alphabets:  # validated now, not halfway through a run
            from hashhop.generate.alphabets import alphabet_chars

            alphabet_chars(alphabet)
    except HashhopError as exc:
        raise SweepError(f"{where}: {exc}") from exc
    return grid


def _number(where: str, key: str, value, kind, minimum):
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (kind is int and not isinstance(value, int))
        or value < minimum
    ):
        raise SweepError(f"{where}: bad {key} {value!r}: use a {'whole ' if kind is int else ''}number >= {minimum}")
    return kind(value)


def model_entry(where: str, item) -> ModelEntry:
    """One `[[models]]` table (or a bare model string) as a ModelEntry."""
    if isinstance(item, str):
        item = {"model": item}
    if not isinstance(item, dict) or not isinstance(item.get("model"), str) or not item["model"]:
        raise SweepError(f'{where}: each model needs model = "BACKEND:MODEL", e.g. model = "oracle"')
    _unknown(f"{where} ({item['model']})", item, MODEL_KEYS)
    w = f"{where} ({item['model']})"
    kw: dict = {"model": item["model"]}
    for key in ("name", "base_url", "api_key_env"):
        if key in item:
            kw[key] = _strings(w, key, item[key])[0]
    numbers = {
        "concurrency": (int, 1),
        "retries": (int, 0),
        "max_tokens": (int, 1),
        "timeout": (float, 0.001),
        "price_in": (float, 0),
        "price_out": (float, 0),
        "max_cost": (float, 0),
    }
    for key, (kind, minimum) in numbers.items():
        if key in item:
            kw[key] = _number(w, key, item[key], kind, minimum)
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


def parse_sweep(data: dict, path: str = "sweep") -> Sweep:
    """A Sweep from a parsed file; `path` names it in errors."""
    _unknown(path, data, TOP_KEYS)
    name = data.get("name") or os.path.splitext(os.path.basename(path))[0]
    if not isinstance(name, str):
        raise SweepError(f"{path}: bad name {name!r}: use a string")
    base = tag = None
    if "suite" in data:
        if not isinstance(data["suite"], str):
            raise SweepError(f'{path}: bad suite {data["suite"]!r}: use a suite name such as "quick"')
        try:
            suite = get_suite(data["suite"])
        except HashhopError as exc:
            raise SweepError(f"{path}: {exc}") from exc
        base, tag = suite.grid, suite.tag
    grid_table = data.get("grid", {})
    if not isinstance(grid_table, dict):
        raise SweepError(f"{path}: [grid] must be a table of lengths, hops, ...")
    grid = _grid(f"{path} [grid]", grid_table, base)
    if tag is None or grid != base:
        tag = f"sweep:{name}"  # a grid of its own: never confused with a shipped suite's numbers
    items = data.get("models", [])
    if not isinstance(items, list):
        raise SweepError(f'{path}: models must be a list: [[models]] tables or model = ["oracle"]')
    models = tuple(model_entry(f"{path} models[{i}]", item) for i, item in enumerate(items))
    folders = [m.folder for m in models]
    if len(set(folders)) != len(folders):
        raise SweepError(
            f'{path}: two models would share the run folder {_first_dup(folders)!r}: give one a name = "..."'
        )
    return Sweep(name=name, tag=tag, grid=grid, models=models, path=path)


def _first_dup(items: list[str]) -> str:
    seen = set()
    for x in items:
        if x in seen:
            return x
        seen.add(x)
    return ""


def load_sweep(path: str) -> Sweep:
    """Read and validate a sweep file (TOML, or YAML with PyYAML)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise SweepError(f"cannot read sweep file {path!r}: {exc.strerror}; check the path") from exc
    return parse_sweep(_parse_text(path, raw), path)
