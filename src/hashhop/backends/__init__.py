"""The backend registry: `backend:model` names resolved to Backend objects.

Built-in backends are modules `hashhop.backends.<name>` exposing `create(model, **options)`; the
vendor library each needs is imported inside that module only. Third-party backends register in
the entry point group `hashhop.backends` (a module with `create`, or the `create` callable itself).
Every backend derives from `Backend` (backends/base.py); what a backend is (computes in-process or
not) is read from the class `create` declares it returns, without opening a model.
"""

from __future__ import annotations

import importlib
import typing
from importlib import metadata

from hashhop.backends.base import Backend, Completion, Request
from hashhop.core.errors import BackendError, OverLength, RateLimited, TransientError

BUILTIN = ("openai", "anthropic", "hf", "llamacpp", "oracle", "random")
ENTRY_POINT_GROUP = "hashhop.backends"

__all__ = [
    "Backend",
    "BackendError",
    "Completion",
    "OverLength",
    "RateLimited",
    "Request",
    "TransientError",
    "available_backends",
    "get_backend",
    "parse_model",
    "parse_options",
    "runs_in_process",
]


def parse_model(spec: str) -> tuple[str, str]:
    """`openai:gpt-4o-mini` -> ("openai", "gpt-4o-mini"); `oracle` -> ("oracle", "")."""
    name, _, model = spec.strip().partition(":")
    if not name:
        raise BackendError(f"bad model {spec!r}: use BACKEND:MODEL, e.g. openai:gpt-4o-mini or oracle")
    return name, model


def _coerce(value: str):
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def parse_options(pairs: list[str] | None) -> dict:
    """`-M key=value` pairs (also `a=1,b=2` in one pair, lm-eval style) into typed options."""
    options: dict = {}
    for pair in pairs or ():
        for item in pair.split(","):
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise BackendError(f"bad model option {item!r}: use -M key=value")
            options[key.strip().replace("-", "_")] = _coerce(value.strip())
    return options


def _entry_points() -> dict:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def available_backends() -> list[str]:
    return sorted(set(BUILTIN) | set(_entry_points()))


def _load_factory(name: str):
    if name in BUILTIN:
        module = importlib.import_module(f"{__name__}.{name}")
        return module.create
    eps = _entry_points()
    if name not in eps:
        raise BackendError(f"unknown backend {name!r}: use one of {', '.join(available_backends())}")
    try:
        target = eps[name].load()
    except ImportError as exc:
        raise BackendError(f"backend {name!r} is registered but cannot be imported ({exc}): reinstall it") from exc
    return getattr(target, "create", target)


def _factory(name: str):
    try:
        return _load_factory(name)
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{name}":  # a built-in backend not written yet
            raise BackendError(
                f"backend {name!r} is not available in this version: use one of openai, oracle, random"
            ) from exc
        raise


def get_backend(spec: str, **options) -> Backend:
    """The backend named `spec` (`openai:MODEL`, `oracle`, `random`, an entry point), with options."""
    name, model = parse_model(spec)
    factory = _factory(name)
    try:
        backend = factory(model, **options)
    except TypeError as exc:
        raise BackendError(f"bad options for backend {name!r}: {exc}") from exc
    if not isinstance(backend, Backend):
        raise BackendError(
            f"backend {name!r} made a {type(backend).__name__}, not a hashhop.backends.Backend: derive its class "
            f"from Backend"
        )
    return backend


def runs_in_process(spec: str) -> bool:
    """Whether the backend of `spec` computes in this process (a local model), from the class its
    `create` declares it returns; the model is not opened."""
    try:
        returned = typing.get_type_hints(_factory(parse_model(spec)[0])).get("return")
    except NameError:  # an annotation that names nothing importable: declared nothing
        return False
    return isinstance(returned, type) and issubclass(returned, Backend) and returned.in_process
