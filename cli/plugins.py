"""``pano-pan plugins``: the localizers, planners and exporters there are, and each one's options."""

from __future__ import annotations

import click

from cli.commands import debug_option
from pano.localizers.base import LOCALIZERS
from pano.paths.exporters import EXPORTERS
from pano.planning.base import PLANNERS
from soundloc.backbones import BACKBONES

FAMILIES = {"localizer": LOCALIZERS, "planner": PLANNERS, "exporter": EXPORTERS, "backbone": BACKBONES}
FLAGS = {"localizer": "--localizer-option", "planner": "--planner-option", "exporter": None, "backbone": None}


@click.command("plugins")
@click.argument("family", required=False, type=click.Choice(list(FAMILIES)))
@click.argument("name", required=False)
@debug_option
def plugins(family: str | None, name: str | None, debug: bool) -> None:
    """List the plugins of each family, or one family's (or plugin's) options with defaults and ranges.

    Listing names imports nothing; showing options imports the plugin (the network and backbones import
    PyTorch).
    """
    if family is None:
        for fam, registry in FAMILIES.items():
            click.echo(f"{fam + 's':<11} {', '.join(registry.names())}")
        click.echo("Run 'pano-pan plugins FAMILY [NAME]' for options.")
        return
    registry = FAMILIES[family]
    for plugin in [name] if name else registry.names():
        cls = registry.load(plugin)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        click.echo(f"{family} {plugin}: {doc}")
        rows = cls.Options.help_rows()
        if not rows:
            click.echo("  (no options)")
        for key, default, valid, text in rows:
            valid = f" [{valid}]" if valid else ""
            click.echo(f"  {FLAGS[family] + ' ' if FLAGS[family] else ''}{key}={default}{valid}  {text}")
