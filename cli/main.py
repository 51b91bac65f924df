"""``pano-pan``: the command group, the bare ``pano-pan INPUT`` form, and error reporting.

Errors a user can fix arrive as ``UserError`` and are printed as one line with a non-zero exit; a
traceback is shown only with ``--debug`` (or ``PANO_PAN_DEBUG=1``), because for a user a traceback is
noise and for a developer it is the first thing needed.
"""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path

import click

from cli.commands import inspect_cmd, run_cmd
from common.errors import UserError
from common.extras import missing_extra
from common.interrupt import Interrupted, handle_signals

_COMMANDS = [inspect_cmd, run_cmd]


def _subcommands() -> list[click.Command]:
    from cli.batch import batch
    from cli.compare import compare
    from cli.convert import convert
    from cli.evaluate import evaluate
    from cli.localize import localize
    from cli.plugins import plugins
    from cli.render import render
    from cli.train import train
    from cli.view import view

    return [batch, render, compare, localize, train, evaluate, plugins, view, convert]


class DefaultGroup(click.Group):
    """A group where ``pano-pan INPUT ...`` means ``pano-pan run INPUT ...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            self._refuse_misspelled_command(args[0])
            args = ["run", *args]
        return super().parse_args(ctx, args)

    def _refuse_misspelled_command(self, word: str) -> None:
        """``pano-pan inpsect x.mp4``: a word that is no file but close to a command is a typo, not an INPUT."""
        if word.startswith("-") or Path(word).exists():
            return
        close = difflib.get_close_matches(word.lower(), list(self.commands), n=1, cutoff=0.6)
        if close:
            raise UserError(
                f"{word!r} is not a pano-pan command (nor a file); did you mean 'pano-pan {close[0]}'? "
                "'pano-pan --help' lists the commands"
            )


@click.group(
    cls=DefaultGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Run 'pano-pan COMMAND --help' for a command's options. 'pano-pan INPUT' is short for "
    "'pano-pan run INPUT'.",
)
@click.version_option(package_name="pano-pan", prog_name="pano-pan")
def cli() -> None:
    """Turn a 360° video into a normal-field-of-view video whose camera follows the sound."""


for _cmd in _COMMANDS + _subcommands():
    cli.add_command(_cmd)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("PANO_PAN_DEBUG") == "1"
    try:
        # SIGTERM/SIGHUP clean up like Ctrl-C (common.interrupt). make_context + invoke rather than
        # cli.main: click's main turns an interrupt into Abort, losing which signal it was.
        with handle_signals(), cli.make_context("pano-pan", argv) as ctx:
            cli.invoke(ctx)
    except Interrupted as err:
        click.echo(f"pano-pan: interrupted ({err}); no partial output was kept", err=True)
        return err.exit_code
    except UserError as err:
        if debug:
            raise
        click.echo(f"pano-pan: error: {err}", err=True)
        return err.exit_code
    except ModuleNotFoundError as err:  # train, evaluate, localize, convert … without the network extra
        word = argv[0] if argv and argv[0] in cli.commands else "run"
        extra = missing_extra(err, f"pano-pan {word}")
        if extra is None or debug:
            raise
        click.echo(f"pano-pan: error: {extra}", err=True)
        return extra.exit_code
    except click.ClickException as err:
        click.echo(f"pano-pan: error: {_click_message(err)}", err=True)
        return err.exit_code
    except click.exceptions.Exit as err:
        return err.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("pano-pan: interrupted; no partial output was kept", err=True)
        return 130
    return 0


def _click_message(err: click.ClickException) -> str:
    """Click's own errors (a missing argument, a bad choice) in pano-pan's one-line style, with where to look."""
    message = err.format_message()
    ctx = getattr(err, "ctx", None)
    if isinstance(err, click.UsageError) and ctx is not None:
        return f"{message} (see '{ctx.command_path} --help')"
    return message


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
