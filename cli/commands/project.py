"""A researcher's project on the gateway: up, check, down, ps, logs."""

from __future__ import annotations

from pathlib import Path

import typer

from spin_gateway.cli.errors import Refused, reports_errors
from spin_gateway.cli.file_sources import inline_file_sources
from spin_gateway.cli.options import (
    AllowUnsupportedOpt,
    EnvFileOpt,
    FacilityProjectOpt,
    FileOpt,
    JsonOpt,
    ProfileOpt,
    ProjectOpt,
    merged,
)


@reports_errors
def up(ctx: typer.Context, file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
       env_file: list[Path] | None = EnvFileOpt, profile: list[str] | None = ProfileOpt,
       wait: bool = typer.Option(False, "--wait", help="Wait until every service is running"),
       timeout: float = typer.Option(120, "--wait-timeout", "--timeout", help="Seconds to wait"),
       facility_project: str | None = FacilityProjectOpt,
       verbose: bool = typer.Option(False, "-v", "--verbose", help="Print every decision"),
       allow_unsupported: bool = AllowUnsupportedOpt,
       json_output: bool = JsonOpt):
    """Create or update the project's services (idempotent)."""
    o = merged(ctx, file, project_name, env_file, profile, json_output)
    project = o.load()
    result = o.client().request("PUT", f"/v1/projects/{project.name}", params={"wait": wait, "timeout": timeout},
                                json={"compose": inline_file_sources(project.model), "facility_project": facility_project,
                                      "allow_unsupported": allow_unsupported})
    o.render.plan(result, verbose=verbose)


@reports_errors
def check(ctx: typer.Context, file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
          env_file: list[Path] | None = EnvFileOpt, profile: list[str] | None = ProfileOpt,
          as_user: str | None = typer.Option(None, "--as", "--as-user", help="Administrators: decide as this user"),
          facility_project: str | None = FacilityProjectOpt,
          allow_unsupported: bool = AllowUnsupportedOpt,
          json_output: bool = JsonOpt):
    """An `up` that forwards nothing: print every call's decision. Exit 1 if any is refused."""
    o = merged(ctx, file, project_name, env_file, profile, json_output)
    project = o.load()
    result = o.client().request("POST", f"/v1/projects/{project.name}/check",
                                json={"compose": inline_file_sources(project.model), "facility_project": facility_project,
                                      "as_user": as_user, "allow_unsupported": allow_unsupported})
    o.render.plan(result, verbose=True)
    if not result["allowed"]:
        raise Refused()


@reports_errors
def down(ctx: typer.Context, file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
         volumes: bool = typer.Option(False, "-v", "--volumes", help="Also remove the project's named volumes"),
         json_output: bool = JsonOpt):
    """Remove the project's services (and with -v its volumes); nothing else is touched."""
    o = merged(ctx, file, project_name, json_output=json_output)
    result = o.client().request("DELETE", f"/v1/projects/{o.project()}", params={"volumes": volumes})
    o.render.plan(result)


@reports_errors
def ps(ctx: typer.Context, file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
       all_projects: bool = typer.Option(False, "-a", "--all", help="List every project you can see"),
       json_output: bool = JsonOpt):
    """Services of the project: ready/desired, state, ports, restarts."""
    o = merged(ctx, file, project_name, json_output=json_output)
    client = o.client()
    if all_projects:
        result = client.request("GET", "/v1/projects")
        if o.as_json:
            return o.render.json(result)
        return o.render.table(["PROJECT", "FACILITY PROJECT", "OWNER", "SERVICES"],
                              [[p["project"], p["facility_project"], p["owner"], ",".join(p["services"])]
                               for p in result["items"]])
    result = client.request("GET", f"/v1/projects/{o.project()}")
    if o.as_json:
        return o.render.json(result)
    o.render.services(result["services"])


@reports_errors
def logs(ctx: typer.Context, service: str | None = typer.Argument(None),
         file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
         tail: int | None = typer.Option(None, "--tail", "-n"), since: str | None = typer.Option(None, "--since"),
         json_output: bool = JsonOpt):
    """Log lines of the project's services."""
    o = merged(ctx, file, project_name, json_output=json_output)
    name = o.project()
    params = {k: v for k, v in {"service": service, "tail": tail, "since": since}.items() if v is not None}
    result = o.client().request("GET", f"/v1/projects/{name}/logs", params=params)
    if o.as_json:
        return o.render.json(result)
    for line in result["lines"]:
        o.render.line(line)
