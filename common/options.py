"""Typed plugin options: one dataclass per plugin, validated in one place, recorded as they are.

Every plugin (localizer, planner, exporter, backbone) declares its options as a dataclass whose fields
carry a default, a one-line help text and a documented range. Values arrive from the command line
(``KEY=VALUE``, already JSON-decoded), from a Python caller, or from a fusion's child spec; ``parse``
checks names, types and ranges up front, so a misspelled key or ``blur_deg=1e9`` is a one-line error
before any work starts, not a traceback or an out-of-memory kill an hour in. ``describe`` is what the
trajectory JSON records in ``generator.params``, so what was run and what was recorded cannot drift.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar

from common.errors import OptionError

_NUMBER = (int, float)


def option(default: Any, help: str, *, lo: float | None = None, hi: float | None = None,
           choices: tuple[Any, ...] | None = None, even: bool = False) -> Any:
    """A dataclass field with its help text and inclusive range (checked on every number it holds)."""
    meta = {"help": help, "lo": lo, "hi": hi, "choices": choices, "even": even}
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class PluginOptions:
    """Base of every plugin's options dataclass (subclasses are ``@dataclass(frozen=True)``)."""

    owner: ClassVar[str] = "plugin"  # set by the registry: "localizer 'ambisonic'"

    @classmethod
    def parse(cls, values: Mapping[str, Any] | None = None, owner: str | None = None) -> PluginOptions:
        """Validated options from ``values``; unknown names, wrong types and out-of-range values are refused."""
        owner = owner or cls.owner
        values = dict(values or {})
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            key = unknown[0]
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise OptionError(f"{owner} has no option {key!r}{hint}; it accepts: {', '.join(fields) or 'none'}")
        hints = typing.get_type_hints(cls)
        converted = {k: _convert(owner, k, v, hints[k], fields[k].metadata) for k, v in values.items()}
        opts = cls(**converted)
        object.__setattr__(opts, "owner", owner)  # for fail(); not a field, so not recorded
        opts.check()
        return opts

    def check(self) -> None:
        """Cross-field rules (e.g. low < high); raise ``OptionError`` via :meth:`fail`."""

    def fail(self, message: str) -> typing.NoReturn:
        raise OptionError(f"{self.owner}: {message}")

    def describe(self) -> dict[str, Any]:
        """The options as plain JSON values, for the trajectory's ``generator.params``."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def help_rows(cls) -> list[tuple[str, str, str, str]]:
        """``(name, default, range, help)`` per option, for ``pano-pan plugins`` and the docs."""
        rows = []
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            rows.append((f.name, _show(default), _range_text(f.metadata), f.metadata.get("help", "")))
        return rows


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (*_NUMBER, str, bool)) or value is None:
        return value
    return getattr(value, "name", repr(value))  # e.g. a constructed child source


def _show(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ",".join(_show(v) for v in value) or "[]"
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _range_text(meta: Mapping[str, Any]) -> str:
    if meta.get("choices"):
        return "|".join(str(c) for c in meta["choices"])
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is None and hi is None:
        return ""
    text = f"{'' if lo is None else f'{lo:g}'}…{'' if hi is None else f'{hi:g}'}"
    return text + (", even" if meta.get("even") else "")


def _convert(owner: str, key: str, value: Any, hint: Any, meta: Mapping[str, Any]) -> Any:
    """``value`` checked against the field's type hint and range; CLI strings become numbers where due."""
    where = f"{owner} option {key}={value!r}"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _convert(owner, key, value, inner[0], meta)
        return value  # a free-form union (e.g. fusion's child specs): the plugin checks it
    if origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.replace(";", ",").split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise OptionError(f"{where}: expected a list, e.g. {key}=[1,2]")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(owner, key, v, args[0], meta) for v in value)
        if len(value) != len(args):
            raise OptionError(f"{where}: expected {len(args)} values, e.g. {key}=[{','.join('1' * len(args))}]")
        return tuple(_convert(owner, key, v, a, meta) for v, a in zip(value, args, strict=True))
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise OptionError(f"{where}: expected true or false")
    if hint in (int, float):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise OptionError(f"{where}: expected a number") from None
        if isinstance(value, bool) or not isinstance(value, _NUMBER):
            raise OptionError(f"{where}: expected a number")
        if not math.isfinite(value):
            raise OptionError(f"{where}: must be a finite number")
        if hint is int:
            if value != int(value):
                raise OptionError(f"{where}: expected a whole number")
            value = int(value)
        _check_range(where, value, meta)
        return float(value) if hint is float else value
    if hint is str:
        if not isinstance(value, str):
            raise OptionError(f"{where}: expected text")
        choices = meta.get("choices")
        if choices and value not in choices:
            raise OptionError(f"{where}: choose one of {', '.join(map(str, choices))}")
        return value
    return value  # Any and other free-form fields: the plugin's check() owns them


def _check_range(where: str, value: float, meta: Mapping[str, Any]) -> None:
    lo, hi = meta.get("lo"), meta.get("hi")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise OptionError(f"{where}: must be in {_range_text(meta)}")
    if meta.get("even") and int(value) % 2:
        raise OptionError(f"{where}: must be an even number")
