"""The ``safetymix`` command: a thin typer app; each command lives in its own module."""

from __future__ import annotations

import sys

import typer

from safetymix import __version__
from safetymix.cli.advise import advise_command
from safetymix.cli.demo import demo_command
from safetymix.cli.embed import embed_command
from safetymix.cli.eval import eval_command
from safetymix.cli.generate import generate_command
from safetymix.cli.judge import judge_command
from safetymix.cli.label import label_command
from safetymix.cli.mix import mix_command
from safetymix.cli.report import report_command
from safetymix.cli.select import select_command
from safetymix.cli.sweep import sweep_command
from safetymix.cli.train import train_command

app = typer.Typer(
    name="safetymix",
    help="Pick the safety examples that keep a fine-tuned LLM safe (behaviour-aware sampling).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click-style help and one-line usage errors, no boxes
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_show_version, help="print the version and exit"
    ),
) -> None:
    """Pick the safety examples that keep a fine-tuned LLM safe (behaviour-aware sampling)."""


#: Every command, in the order ``--help`` lists them.
COMMANDS = {
    "label": label_command,
    "embed": embed_command,
    "select": select_command,
    "mix": mix_command,
    "train": train_command,
    "generate": generate_command,
    "judge": judge_command,
    "eval": eval_command,
    "demo": demo_command,
    "sweep": sweep_command,
    "report": report_command,
    "advise": advise_command,
}
for _name, _command in COMMANDS.items():
    app.command(_name)(_command)


@app.command("version")
def version_command() -> None:
    """Print the safetymix version."""
    typer.echo(__version__)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI in-process and return its exit code (what the tests call).

    Usage errors (unknown option, missing argument, bad choice, no command) print click's
    one-line message and return 2. typer >= 0.29 vendors click, so its exceptions derive
    from ``typer.exceptions.TyperException``, not ``click.ClickException``: both are caught.
    """
    import click
    from typer.exceptions import Abort as TyperAbort
    from typer.exceptions import TyperException

    try:
        rv = app(args=argv, prog_name="safetymix", standalone_mode=False)
    except (click.ClickException, TyperException) as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, TyperAbort, KeyboardInterrupt):
        return 130
    # With standalone_mode=False click returns typer.Exit's code instead of exiting.
    return rv if isinstance(rv, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
