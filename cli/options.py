"""The options several commands share, declared once, and the state they resolve to.

The project options (-f, -p, --env-file, --profile) and --json are accepted
both before the command (`spin -f a.yaml up`) and after it (`spin up -f a.yaml`),
as docker compose accepts them; `merged` joins the two. The gateway URL and
token are root options only.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from spin_gateway.cli import config as cfg
from spin_gateway.cli.render import Renderer

if TYPE_CHECKING:
    from spin_gateway.cli.client import GatewayClient
    from spin_gateway.compose_loader import ComposeProject

FileOpt = typer.Option(None, "-f", "--file", help="Compose file (repeatable, merged in order)")
ProjectOpt = typer.Option(None, "-p", "--project-name", help="Project name (default: from the files' folder)")
EnvFileOpt = typer.Option(None, "--env-file", help="Alternative environment file (repeatable)")
ProfileOpt = typer.Option(None, "--profile", help="Enable a profile (repeatable)")
JsonOpt = typer.Option(False, "--json", help="Machine-readable output")
GatewayOpt = typer.Option(None, "--gateway", help="Gateway URL (default: SPIN_GATEWAY)")
TokenOpt = typer.Option(None, "--token", help="Bearer token (default: SPIN_TOKEN)", hidden=True)
AllowUnsupportedOpt = typer.Option(False, "--allow-unsupported",
                                   help="Leave out compose keys that have no Kubernetes form, reporting each, instead of refusing")
FacilityProjectOpt = typer.Option(None, "--facility-project", envvar="SPIN_FACILITY_PROJECT")

PolicyDirOpt = typer.Option(Path("rego"), "--policy-dir", help="Folder of Rego policies")
SiteOpt = typer.Option(None, "--site-data", help="Site data YAML (default: <policy-dir>/site.yaml)")
DataOpt = typer.Option(None, "--data", "--site-data", help="Site data YAML (default: <policy-dir>/site.yaml)")
OpaUrlOpt = typer.Option(None, "--opa-url", help="Decide with this OPA server (rego/ loaded as a bundle) instead of the "
                         "embedded engine")


@dataclass
class Options:
    files: list[Path] = field(default_factory=list)
    project_name: str | None = None
    env_files: list[Path] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    as_json: bool = False
    gateway: str | None = None
    token: str | None = None

    @property
    def render(self) -> Renderer:
        return Renderer(self.as_json)

    def load(self, *, warn: bool = True) -> ComposeProject:
        """The compose project the files name, loaded as Docker Compose loads it; warnings go to stderr."""
        from spin_gateway.compose_loader import load_project

        files: list[str | Path] = [*self.files]
        env_files: list[str | Path] = [*self.env_files]
        project = load_project(files, project_name=self.project_name, env_files=env_files or None,
                               profiles=self.profiles or None)
        for w in project.warnings if warn else ():
            sys.stderr.write(f"warning: {w}\n")
        return project

    def project(self) -> str:
        """The project's name: -p, or the name the compose files give (their warnings are for up and check)."""
        return self.project_name or self.load(warn=False).name

    def client(self) -> GatewayClient:
        from spin_gateway.cli.client import GatewayClient

        return GatewayClient(cfg.gateway_url(self.gateway), cfg.token(self.token))


def options(ctx: typer.Context | None) -> Options:
    """The root's options, or the defaults when there is no root (a command invoked on its own)."""
    return (ctx.find_root().obj if ctx is not None else None) or Options()


def merged(ctx: typer.Context, file: list[Path] | None = None, project_name: str | None = None,
           env_file: list[Path] | None = None, profile: list[str] | None = None, json_output: bool = False) -> Options:
    """The root's options with the command's own: lists add up, a command's -p and --json win."""
    o = options(ctx)
    o.files = o.files + list(file or [])
    o.project_name = project_name or o.project_name
    o.env_files = o.env_files + list(env_file or [])
    o.profiles = o.profiles + list(profile or [])
    o.as_json = o.as_json or json_output
    return o
