"""The `spin` command: the root options and the commands of cli/commands/, assembled.

Commands parse flags, call the gateway (or a local library), and render; nothing
else. Errors become exit codes in one place, cli/errors.py: 0 done, 1 refused
by policy, 2 bad usage or bad input, 3 gateway or backend unreachable, 4 a workload
failed to become ready.
"""

from __future__ import annotations

from pathlib import Path

import typer

from spin_gateway.cli.commands import audit, auth, compose, gateway, policy, project
from spin_gateway.cli.group import DIFFERENCES, SpinGroup
from spin_gateway.cli.options import (
    EnvFileOpt,
    FileOpt,
    GatewayOpt,
    JsonOpt,
    Options,
    ProfileOpt,
    ProjectOpt,
    TokenOpt,
)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, cls=SpinGroup,
                  help="Run compose projects on the facility's gateway, checked by its policies.",
                  epilog=DIFFERENCES, rich_markup_mode=None)


@app.callback()
def root(ctx: typer.Context,
         file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
         env_file: list[Path] | None = EnvFileOpt, profile: list[str] | None = ProfileOpt,
         json_output: bool = JsonOpt, gateway: str | None = GatewayOpt, token: str | None = TokenOpt):
    ctx.obj = Options(list(file or []), project_name, list(env_file or []), list(profile or []), json_output,
                      gateway, token)


for command in (project.up, project.check, project.down, project.ps, project.ls, project.logs,  # researchers
                project.stop, project.start, project.restart, project.scale, project.pull, project.build,
                compose.convert, compose.config,
                auth.login, auth.logout, auth.whoami):
    app.command()(command)
# `exec SERVICE CMD -c ...`: everything after the service is the command's, options included.
app.command("exec", context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True})(project.exec_)
app.command("run", context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True})(project.run)
app.add_typer(policy.app, name="policy")      # security staff
app.add_typer(audit.app, name="audit")
app.add_typer(gateway.app, name="gateway")    # the gateway's operators
app.add_typer(auth.token_app, name="token")   # administrators


def main() -> None:
    app()


if __name__ == "__main__":
    main()
