"""Plugin registries: one table per family, naming each plugin's class by import path.

A family (localizers, planners, exporters, backbones) is a ``Registry`` built from a table of
``name → "module:Class"``. The table is all the CLI needs for its choices, so listing plugins imports
nothing; a plugin's module is imported the first time it is used, which keeps PyTorch out of every run
that does not use the network. Adding a plugin is one new module plus one line in its family's table;
another package adds one with an entry point in its own ``pyproject.toml`` (group
``pano_pan.localizers``, ``pano_pan.planners``, ``pano_pan.exporters``), or a ``register`` call.

A plugin class has an ``Options`` dataclass (:mod:`common.options`) and is created as
``cls(ctx, options)``; ``create`` parses the options first, so every plugin is validated the same way.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from common.errors import OptionError
from common.extras import missing_extra
from common.options import PluginOptions

T = TypeVar("T")


class Registry(Generic[T]):
    """Name → plugin class, imported lazily; see the module docstring."""

    def __init__(self, family: str, entries: Mapping[str, str], flag: str | None = None,
                 entry_point_group: str | None = None) -> None:
        self.family = family
        self.flag = flag or f"--{family}"
        self._entries: dict[str, str] = dict(entries)
        self._loaded: dict[str, type[T]] = {}
        self._group = entry_point_group
        self._discovered = entry_point_group is None

    def _discover(self) -> None:
        """Plugins other packages declare under ``[project.entry-points."<group>"]`` (names only; the
        built-in table wins on a clash). Reading distribution metadata imports no plugin code."""
        if self._discovered:
            return
        self._discovered = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=self._group):
            self._entries.setdefault(ep.name, ep.value)

    def register(self, name: str, target: str | type[T]) -> None:
        """Add a plugin: ``"package.module:Class"`` (imported on first use) or the class itself."""
        if isinstance(target, str):
            self._entries[name] = target
            self._loaded.pop(name, None)
        else:
            self._entries[name] = f"{target.__module__}:{target.__qualname__}"
            self._loaded[name] = target

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)
        self._loaded.pop(name, None)

    def names(self) -> tuple[str, ...]:
        self._discover()
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._entries

    def load(self, name: str) -> type[T]:
        """The plugin class for ``name``; an unknown name is a one-line error with the closest names."""
        self._discover()
        if name not in self._entries:
            close = difflib.get_close_matches(str(name), list(self._entries), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise OptionError(f"{self.flag} {name!r}: unknown {self.family}{hint}; choose one of: "
                              f"{', '.join(self._entries)}")
        if name not in self._loaded:
            module, _, attr = self._entries[name].partition(":")
            try:
                cls = getattr(importlib.import_module(module), attr)
            except ModuleNotFoundError as err:  # e.g. the network localizer without PyTorch
                extra = missing_extra(err, f"{self.flag} {name}")
                if extra is None:
                    raise
                raise extra from err
            options = getattr(cls, "Options", None)
            if not (isinstance(options, type) and issubclass(options, PluginOptions)):
                raise TypeError(f"{self.family} {name!r}: {cls.__name__}.Options must subclass PluginOptions")
            self._loaded[name] = cls
        return self._loaded[name]

    def options(self, name: str, values: Mapping[str, Any] | None = None) -> PluginOptions:
        """``name``'s options parsed from ``values`` (defaults for the rest)."""
        return self.load(name).Options.parse(values, owner=f"{self.family} {name!r}")  # type: ignore[attr-defined]

    def create(self, name: str, ctx: Any, values: Mapping[str, Any] | PluginOptions | None = None) -> T:
        """Parse ``values`` and construct ``name`` with the run context."""
        cls = self.load(name)
        opts = values if isinstance(values, PluginOptions) else self.options(name, values)
        return cls(ctx, opts)  # type: ignore[call-arg]
