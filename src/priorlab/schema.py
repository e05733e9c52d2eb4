"""Values checked where they enter: each config's declared field types, applied by pydantic.

Every config is a dataclass whose annotations are its schema (config.py: PretrainConfig,
TrainConfig, EvalConfig; algos: Algorithm). `typed` applies them with pydantic v2, the
field's standard validator (chosen because it validates plain dataclasses without
rewriting them, coerces the way YAML and `--set` values need, and names the failing
field's full path): `"8"` -> 8, `"2e-1"` -> 0.2, `8.0` -> 8, while `2.5` for an integer, a
boolean for a number, NaN or infinity, and a string for a mapping are refused with the
field, the value and what is accepted. Ranges and cross-field rules stay beside the config
(config.validate_*, algos.validate), run on the typed values.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import types
import typing

from pydantic import TypeAdapter, ValidationError, create_model

from priorlab.errors import ConfigError


def typed(cls, data: dict, *, where: str = "config", path: str = ""):
    """An instance of dataclass `cls` from `data`, each value coerced to its field's declared
    type; ConfigError naming `path` + the field (e.g. `algo_params.eps_high`) otherwise.
    `where` names the source in the unknown-field message."""
    names = [f.name for f in dataclasses.fields(cls)]
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        if key not in hints:
            raise ConfigError(path + key, f"unknown field in {where}; valid: {', '.join(names)}")
        _refuse_lax(path + key, hints[key], value)
    try:
        return _adapter(cls).validate_python(dict(data))
    except ValidationError as e:
        raise _refusal(e, path, hints) from None


def typed_params(fn, params: dict, *, path: str) -> dict:
    """`params` for callable (or class) `fn`, each coerced to its keyword parameter's
    annotation (unannotated: its default's type); ConfigError naming `path`.name otherwise.
    A reward source's parameters are declared by its signature, and checked by it here."""
    target = fn.__init__ if isinstance(fn, type) else fn
    try:
        hints = typing.get_type_hints(target)
    except (NameError, TypeError):
        hints = {}
    fields = {}
    for p in inspect.signature(fn).parameters.values():
        if p.name in params:
            guess = type(p.default) if p.default not in (None, p.empty) else typing.Any
            fields[p.name] = (hints.get(p.name, guess), ...)
            _refuse_lax(f"{path}.{p.name}", fields[p.name][0], params[p.name])
    try:
        values = create_model("Params", **fields).model_validate(params)
    except ValidationError as e:
        raise _refusal(e, f"{path}.", {name: tp for name, (tp, _) in fields.items()}) from None
    return {name: getattr(values, name) for name in params}


def _refusal(e: ValidationError, path: str, hints: dict) -> ConfigError:
    """pydantic's first error as one ConfigError: the field's path, what it accepts (its
    declared type, or pydantic's words inside a container) and the value given."""
    err = e.errors()[0]
    loc = err["loc"]
    want = _name(hints[loc[0]]) if len(loc) == 1 else _accepted(err)
    return ConfigError(path + _dotted(loc), f"expected {want}, got {err['input']!r}")


@functools.cache
def _adapter(cls) -> TypeAdapter:
    return TypeAdapter(cls)


def _refuse_lax(field: str, tp, value) -> None:
    """What pydantic's lax mode would accept but a config must not: a boolean where the
    field is a number, NaN or infinity anywhere a number is read."""
    union = typing.get_origin(tp) in (typing.Union, types.UnionType)
    allowed = typing.get_args(tp) if union else (tp,)
    if isinstance(value, bool) and bool not in allowed:
        raise ConfigError(field, f"expected {_name(tp)}, got {value!r}")
    number = value if isinstance(value, float) else _as_float(value)
    if number is not None and not math.isfinite(number) and (float in allowed or int in allowed):
        raise ConfigError(field, f"expected a finite number, got {value!r}")


def _as_float(value) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _accepted(err: dict) -> str:
    return err["msg"].removeprefix("Input should be ")


def _one(tp) -> str:
    """A type as a YAML user reads it: a tuple is written as a list."""
    origin = typing.get_origin(tp) or tp
    return "list" if origin in (tuple, list) else getattr(origin, "__name__", str(tp))


def _name(tp) -> str:
    kinds = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else ()
    names = [_one(t) for t in kinds or (tp,)]
    return " or ".join("None" if n == "NoneType" else n for n in names)
