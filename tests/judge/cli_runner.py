"""Run ``safetymix judge`` / ``safetymix eval`` in-process.

Uses ``safetymix.cli.main.main`` once the commands are registered there; until then, a
typer app with just these two commands, run the same way.
"""

from __future__ import annotations


def run_cli(argv: list[str]) -> int:
    from safetymix.cli import main as cli_main

    registered = {c.name for c in cli_main.app.registered_commands}
    if {"judge", "eval"} <= registered:
        return cli_main.main(argv)
    import click
    import typer

    from safetymix.cli.eval import eval_command
    from safetymix.cli.judge import judge_command

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("judge")(judge_command)
    app.command("eval")(eval_command)
    try:
        rv = app(args=argv, prog_name="safetymix", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return rv if isinstance(rv, int) else 0
