"""A sweep file's text (TOML, or YAML when PyYAML is installed) and the checks of its values.

Each check returns the value in the Grid's or ModelEntry's vocabulary, or raises a one-line
`SweepError` naming the place (`where`), the key and the fix.
"""

from __future__ import annotations

from hashhop.core.errors import HashhopError, SweepError
from hashhop.generator.spec import parse_size


def parse_text(path: str, raw: bytes) -> dict:
    """The table a sweep file holds: TOML, or YAML by its extension."""
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


def reject_unknown(where: str, table: dict, known: tuple[str, ...]) -> None:
    """Refuse keys outside `known` (and any `api_key`: keys never go in a file)."""
    # YAML allows keys that are not strings (`1: x`, `null: x`): name them, never compare them.
    unknown = sorted(k if isinstance(k, str) and k.isprintable() else repr(k) for k in set(table) - set(known))
    if "api_key" in unknown:
        raise SweepError(
            f'{where}: never put a key in a sweep file: export it and name the variable with api_key_env = "NAME"'
        )
    if unknown:
        raise SweepError(f"{where}: unknown key(s) {', '.join(unknown)}: known keys are {', '.join(known)}")


def as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def ints(where: str, key: str, value, minimum: int) -> tuple[int, ...]:
    out = []
    for v in as_list(value):
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise SweepError(f"{where}: bad {key} {v!r}: use whole numbers >= {minimum}, e.g. {key} = [{minimum}]")
        out.append(v)
    return tuple(out)


def lengths(where: str, value) -> tuple[int, ...]:
    out = []
    for v in as_list(value):
        try:
            n = parse_size(v) if isinstance(v, (int, str)) and not isinstance(v, bool) else None
        except HashhopError:
            n = None
        if not n or n < 1:
            raise SweepError(f'{where}: bad length {v!r}: use sizes like "4K", "1M" or 2000')
        out.append(n)
    return tuple(out)


def cots(where: str, value) -> tuple[bool, ...]:
    words = {"cot": (True,), "skip": (False,), "both": (True, False), True: (True,), False: (False,)}
    out: list[bool] = []
    for v in as_list(value):
        if isinstance(v, (bool, str)) and v in words:
            out += words[v]
        else:
            raise SweepError(f'{where}: bad cot {v!r}: use true, false, "cot", "skip" or "both"')
    return tuple(dict.fromkeys(out))


def depths(where: str, value) -> tuple[float | None, ...]:
    out: list[float | None] = []
    for v in as_list(value):
        if v is None or v == "any":
            out.append(None)
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1:
            out.append(float(v))
        else:
            raise SweepError(f'{where}: bad depth {v!r}: use fractions in [0, 1] (0 = top of the context) or "any"')
    return tuple(out)


def strings(where: str, key: str, value) -> tuple[str, ...]:
    out = as_list(value)
    if not out or not all(isinstance(v, str) and v for v in out):  # an empty list names nothing
        raise SweepError(f'{where}: bad {key} {value!r}: use a list of names, e.g. {key} = ["letters"]')
    return tuple(out)


def number(where: str, key: str, value, kind, minimum):
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (kind is int and not isinstance(value, int))
        or value < minimum
    ):
        raise SweepError(f"{where}: bad {key} {value!r}: use a {'whole ' if kind is int else ''}number >= {minimum}")
    return kind(value)
