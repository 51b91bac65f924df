"""The base every plugin class shares: its options, its run context, and what it records.

A plugin is created as ``cls(ctx, options)`` (by :meth:`common.registry.Registry.create`, or by
:meth:`Plugin.build` from keyword options in library code and tests), keeps both, and by default
records its options as they were parsed, so the trajectory JSON says exactly what ran.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from common.options import PluginOptions


@dataclasses.dataclass(frozen=True)
class NoOptions(PluginOptions):
    """For plugins without options."""


class Plugin:
    name: ClassVar[str] = ""
    family: ClassVar[str] = "plugin"
    Options: ClassVar[type[PluginOptions]] = NoOptions

    def __init__(self, ctx: Any, options: PluginOptions | None = None) -> None:
        self.ctx = ctx
        self.options = options if options is not None else self.Options.parse({}, owner=self.owner())

    @classmethod
    def owner(cls) -> str:
        return f"{cls.family} {cls.name!r}"

    @classmethod
    def build(cls, ctx: Any = None, **values: Any):
        """Construct from keyword options, validated as on the command line."""
        return cls(ctx, cls.Options.parse(values, owner=cls.owner()))

    def describe(self) -> dict[str, Any]:
        """Parameters recorded in the trajectory JSON's ``generator.params``."""
        return self.options.describe()
