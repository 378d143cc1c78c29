"""Config tables into dataclasses, every value checked against its field's type (TOML and stored JSON alike).

:func:`build_dataclass` turns a TOML table or a JSON object into a dataclass: numbers are numbers (not
``true``), booleans are ``true``/``false`` (not ``"false"``), text is text, lists and tables hold values of their
declared type, nested dataclasses are built and paths made ``Path``; an unknown key is refused with the
closest valid one. :func:`plain` is the way back (JSON-ready data). Messages quote the value as TOML writes it
and give an example that fits the field.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any

from .errors import InputError


def closest_key(key: str, valid: list[str]) -> str:
    """"did you mean 'x'?" for the closest of ``valid``, else the list of valid keys."""
    match = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    return f"did you mean '{match[0]}'?" if match else "valid keys: " + ", ".join(sorted(valid))


def dataclass_in(tp: Any) -> type | None:
    """The dataclass inside a type such as ``X``, ``X | None``, ``list[X]`` or ``dict[str, X]``."""
    if dataclasses.is_dataclass(tp):
        return tp
    for arg in typing.get_args(tp):
        found = dataclass_in(arg)
        if found is not None:
            return found
    return None


def _plain_type(tp: Any) -> Any:
    """``X`` for ``X | None`` (the one non-None member of a union), else ``tp``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


#: Example values for messages about fields whose default is no example.
_EXAMPLES: dict[str, str] = {"total": "120000", "value": "0.9", "year": "2025", "kmh": "4.5", "crs": "\"EPSG:4326\"",
                             "path": "\"facilities.csv\"", "category": "\"clinic\"", "level": "\"street\"",
                             "population": "\"pop_65plus\"", "name_column": "\"name\"", "layer": "\"roads\"",
                             "categories": "[\"clinic\", \"school\"]", "columns": "[\"pop_65plus\"]",
                             "admin_levels": "[8, 10]", "building_values": "[\"residential\", \"apartments\"]"}


def _example(name: str, default: Any) -> str:
    """An example value of field ``name`` for a message: its default when that is an example, else a typical one."""
    if name in _EXAMPLES:
        return _EXAMPLES[name]
    if "minutes" in name:
        return "30" if "." in name else "15"
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, (int, float)):
        return f"{default:g}"
    if isinstance(default, str) and default:
        return f"\"{default}\""
    return "\"...\""


def _toml(value: Any) -> str:
    """A value as it is written in TOML (``true``, ``"text"``), for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    return repr(value)


def _unit(name: str) -> str:
    """The unit of a numeric field, by its name, for messages."""
    if name.endswith("_m"):
        return " of metres"
    if "minutes" in name:
        return " of minutes"
    return ""


def _value(value: Any, tp: Any, where: str, name: str, source: Path | str, strict: bool, default: Any = None) -> Any:
    """One field's value checked against and converted to its declared type: numbers are numbers (not
    ``true``), booleans are ``true``/``false`` (not ``"false"``), text is text, lists and tables hold values of
    their declared type; nested dataclasses are built and paths made ``Path``."""
    if value is None:
        return None
    tp = _plain_type(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    what = f"[{where}] {name} = {_toml(value)}"
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return build_dataclass(tp, value, f"{where}.{name}", source, strict=strict)
    if origin is list:
        if not isinstance(value, list):
            raise InputError(source, f"{what} is not a list", f"write a list in brackets, e.g. {name} = "
                             + (_example(name, None) if name in _EXAMPLES else "[...]"))
        if args and dataclasses.is_dataclass(args[0]):
            return [build_dataclass(args[0], v, f"{name} #{i}", source, strict=strict) for i, v in enumerate(value, 1)]
        return [_value(v, args[0], where, f"{name}[{i}]", source, strict) for i, v in enumerate(value)] if args else value
    if origin is dict:
        if not isinstance(value, dict):
            raise InputError(source, f"{what} is not a table", f"write a table, e.g. {name} = {{rural = 30}}")
        if len(args) == 2 and dataclasses.is_dataclass(args[1]):
            return {k: build_dataclass(args[1], v, f"{name}.{k}", source, strict=strict) for k, v in value.items()}
        return {k: _value(v, args[1], where, f"{name}.{k}", source, strict) for k, v in value.items()} if args else value
    if tp is bool:
        if not isinstance(value, bool):
            raise InputError(source, f"{what} is not true or false",
                             f"write {name} = true or {name} = false, without quotes")
        return value
    if tp is float or tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (tp is int and not float(value).is_integer()):
            kind = "whole number" if tp is int else "number"
            raise InputError(source, f"{what} is not a {kind}",
                             f"write a plain {kind}{_unit(name)}, e.g. {name} = {_example(name, default)}")
        return float(value) if tp is float else int(value)
    if tp is str:
        if not isinstance(value, str):
            raise InputError(source, f"{what} is not text", f"write it in quotes, e.g. {name} = {_example(name, default)}")
        return value
    if tp is Path:
        return Path(value)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):  # e.g. str | int (a CRS may be an EPSG number)
        kinds = [a for a in typing.get_args(tp) if a is not type(None)]
        if not any(isinstance(value, k) and not (k is int and isinstance(value, bool)) for k in kinds):
            raise InputError(source, f"{what} is not {' or '.join(k.__name__ for k in kinds)}",
                             f"e.g. {name} = {_example(name, default)}")
    return value


def build_dataclass(cls: type, data: Any, where: str, source: Path | str, *, strict: bool = True,
                    **fixed: Any) -> Any:
    """Make dataclass ``cls`` from a TOML table or a stored JSON object.

    Values are converted to the field types (numbers checked, nested dataclasses built, paths made ``Path``).
    With ``strict`` (a config file) an unknown key is an error naming the closest valid key; without it
    (JSON written by another version of access15) unknown keys are ignored and missing ones keep their
    defaults. ``fixed`` sets fields that do not come from ``data`` (e.g. a category's ``name``).
    """
    if not isinstance(data, dict):
        raise InputError(source, f"[{where}] must be a table", "see the config format in the README")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in fixed]
    defaults = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
    kwargs: dict[str, Any] = dict(fixed)
    for key, value in data.items():
        if key not in names:
            if strict:
                raise InputError(source, f"unknown key '{key}' in [{where}]", closest_key(key, names))
            continue
        default = defaults.get(key)
        kwargs[key] = _value(value, hints[key], where, key, source, strict, default)
    return cls(**kwargs)


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses and dicts as dicts (key order kept), tuples and sets as lists,
    paths as strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
