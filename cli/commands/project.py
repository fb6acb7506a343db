"""A researcher's project on the gateway, with docker compose's verbs: up, check, down, ps, ls, logs, stop, start,
restart, exec, scale (and pull/build, which say why they have nothing to do here)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

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
from spin_gateway.vocabulary.errors import NotFound, UsageError

#: `logs -f` asks the gateway for new lines this often (seconds).
FOLLOW_POLL_SECONDS = 1.0
#: Without --all, `ps` leaves out services in these states, as `docker compose ps` leaves out stopped containers.
STOPPED_STATES = {"exited", "completed", "stopped"}

NO_BUILD = ("the gateway builds no images: it runs images from registries the site allows, so a service's "
            "`build:` is not built here")
NO_BUILD_HINT = ("Build and push the image yourself (`docker build -t REGISTRY/NAME:TAG . && docker push ...`), "
                 "then name it in the service's `image:`.")


@reports_errors
def up(ctx: typer.Context, file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
       env_file: list[Path] | None = EnvFileOpt, profile: list[str] | None = ProfileOpt,
       detach: bool = typer.Option(False, "-d", "--detach",
                                   help="Accepted for docker compose habits: spin up never attaches"),
       build: bool = typer.Option(False, "--build", help="Refused with the reason: the gateway builds no images"),
       force_recreate: bool = typer.Option(False, "--force-recreate",
                                           help="Replace every service's containers, changed or not"),
       remove_orphans: bool = typer.Option(False, "--remove-orphans",
                                           help="Remove services the compose file no longer names (default: "
                                                "keep them, with a notice)"),
       wait: bool = typer.Option(False, "--wait", help="Wait until every service is running"),
       timeout: float = typer.Option(120, "--wait-timeout", "--timeout", help="Seconds to wait"),
       facility_project: str | None = FacilityProjectOpt,
       verbose: bool = typer.Option(False, "-v", "--verbose", help="Print every decision"),
       allow_unsupported: bool = AllowUnsupportedOpt,
       json_output: bool = JsonOpt):
    """Create or update the project's services (idempotent). Exit 4 if --wait sees a service fail."""
    o = merged(ctx, file, project_name, env_file, profile, json_output)
    if build:
        raise UsageError(f"--build: {NO_BUILD}", hint=NO_BUILD_HINT)
    project = o.load()
    _put(o, project.name, inline_file_sources(project.model), wait=wait, timeout=timeout,
         facility_project=facility_project, allow_unsupported=allow_unsupported, verbose=verbose,
         remove_orphans=remove_orphans, force_recreate=force_recreate)


def _put(o: Any, name: str, model: dict[str, Any], *, wait: bool = False, timeout: float = 120,
         facility_project: str | None = None, allow_unsupported: bool = False, verbose: bool = False,
         remove_orphans: bool = False, force_recreate: bool = False) -> None:
    params = {"wait": wait, "timeout": timeout, "remove_orphans": remove_orphans, "force_recreate": force_recreate}
    result = o.client().request("PUT", f"/v1/projects/{name}", params=params,
                                json={"compose": model, "facility_project": facility_project,
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
         remove_orphans: bool = typer.Option(False, "--remove-orphans",
                                             help="Accepted for docker compose habits: down removes every service"),
         json_output: bool = JsonOpt):
    """Remove the project's services (and with -v its volumes). Exit 0 if it is already gone, as compose does."""
    o = merged(ctx, file, project_name, json_output=json_output)
    name = o.project()
    try:
        result = o.client().request("DELETE", f"/v1/projects/{name}", params={"volumes": volumes})
    except NotFound:
        if o.as_json:
            return o.render.json({"project": name, "status": "absent"})
        return o.render.line(f"project {name}: nothing to remove (not running)")
    o.render.plan(result)


@reports_errors
def ps(ctx: typer.Context, file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
       all_services: bool = typer.Option(False, "-a", "--all",
                                         help="Also list stopped and completed services (as docker compose ps -a)"),
       json_output: bool = JsonOpt):
    """Services of the project: ready/desired, state, ports, restarts. `spin ls` lists your projects."""
    o = merged(ctx, file, project_name, json_output=json_output)
    result = o.client().request("GET", f"/v1/projects/{o.project()}")
    services = result["services"]
    shown = services if all_services else [s for s in services if s["state"] not in STOPPED_STATES]
    if o.as_json:
        return o.render.json({**result, "services": shown})
    o.render.services(shown)
    hidden = len(services) - len(shown)
    sys.stderr.write(f"project {result['project']}: facility project {result['facility_project'] or '(none)'} "
                     f"(every member may manage it), created by {result['owner'] or '?'}"
                     + (f"; {hidden} stopped service{'s' if hidden != 1 else ''} not shown (`spin ps -a`)"
                        if hidden else "") + "\n")


@reports_errors
def ls(ctx: typer.Context, json_output: bool = JsonOpt):
    """The projects you can manage: yours and those of your facility projects' members (as docker compose ls)."""
    o = merged(ctx, json_output=json_output)
    result = o.client().request("GET", "/v1/projects")
    if o.as_json:
        return o.render.json(result)
    # Not "OWNER": every member of the facility project may manage the project (docs/researcher.md, "Sharing").
    o.render.table(["PROJECT", "SERVICES", "SHARED WITH", "CREATED BY"],
                   [[p["project"], ",".join(p["services"]),
                     f"members of {p['facility_project']}" if p["facility_project"] else "only its creator",
                     p["owner"]] for p in result["items"]])


@reports_errors
def logs(ctx: typer.Context, services: list[str] | None = typer.Argument(None, help="Services (default: all)"),
         file: list[Path] | None = typer.Option(None, "--file", help="Compose file (`-f` follows, as in compose; "
                                                "put `-f FILE` before the verb)"),
         project_name: str | None = ProjectOpt,
         follow: bool = typer.Option(False, "-f", "--follow", help="Keep printing new lines until interrupted"),
         tail: int | None = typer.Option(None, "--tail", "-n", help="Only the last N lines of each container"),
         since: str | None = typer.Option(None, "--since", help="Since a time (2026-05-01T10:00:00Z) or a duration "
                                          "(10m, 1h30m)"),
         timestamps: bool = typer.Option(False, "-t", "--timestamps", help="Each line's time first"),
         json_output: bool = JsonOpt):
    """Log lines of the project's services (-f follows them, as `docker compose logs -f`)."""
    o = merged(ctx, file, project_name, json_output=json_output)
    name = o.project()
    client = o.client()
    targets: list[str | None] = list(services or []) or [None]

    def fetch(service: str | None, since_: str | None, tail_: int | None) -> list[str]:
        params = {k: v for k, v in {"service": service, "tail": tail_, "since": since_}.items() if v is not None}
        return client.request("GET", f"/v1/projects/{name}/logs", params={**params, "timestamps": follow or timestamps}
                              )["lines"]

    if not follow:
        lines = [line for target in targets for line in fetch(target, since, tail)]
        if o.as_json:
            return o.render.json({"project": name, "lines": lines})
        for line in lines:
            o.render.line(line)
        return
    # Following: ask for lines since the newest time seen; a line already shown (same service, time and text)
    # is not shown again, since the gateway's `since` includes the second it names.
    seen: set[tuple[str, str, str]] = set()
    newest = since
    first = True
    try:
        while True:
            batch = [line for target in targets for line in fetch(target, newest, tail if first else None)]
            first = False
            for line in batch:
                svc, _, rest = line.partition(" | ")
                stamp, _, text = rest.partition(" ")
                if not _is_time(stamp):
                    stamp, text = "", rest
                key = (svc, stamp, text)
                if key in seen:
                    continue
                seen.add(key)
                if stamp and (newest is None or not _is_time(newest) or stamp > newest):
                    newest = stamp
                shown = f"{svc} | {stamp} {text}" if timestamps and stamp else f"{svc} | {text}"
                if o.as_json:
                    o.render.json_line({"service": svc, "time": stamp or None, "line": text})
                else:
                    o.render.line(shown)
            sys.stdout.flush()
            if newest and _is_time(newest):
                seen = {k for k in seen if k[1] >= newest[:19]}  # keep only what the next answer can repeat
            time.sleep(FOLLOW_POLL_SECONDS)
    except KeyboardInterrupt:
        return


def _is_time(text: str | None) -> bool:
    """An RFC 3339 time as podman and the kubelet print them (2026-12-08T00:52:01.123456789Z or +00:00)."""
    return text is not None and len(text) >= 20 and text[4] == "-" and text[10] == "T" and text[:4].isdigit()


def _lifecycle(ctx: typer.Context, action: str, services: list[str] | None, file: list[Path] | None,
               project_name: str | None, json_output: bool) -> None:
    o = merged(ctx, file, project_name, json_output=json_output)
    result = o.client().request("POST", f"/v1/projects/{o.project()}/{action}", params={"service": services or []})
    if o.as_json:
        return o.render.json(result)
    for r in result["results"]:
        o.render.line(f"{r['message'] or r['action']:<10} {r['kind']}/{r['name']}")


ServicesArg = typer.Argument(None, help="Services (default: every service of the project)")


@reports_errors
def stop(ctx: typer.Context, services: list[str] | None = ServicesArg, file: list[Path] | None = FileOpt,
         project_name: str | None = ProjectOpt, json_output: bool = JsonOpt):
    """Stop services without removing them (`spin start` starts them again). Podman only; see `spin scale`."""
    _lifecycle(ctx, "stop", services, file, project_name, json_output)


@reports_errors
def start(ctx: typer.Context, services: list[str] | None = ServicesArg, file: list[Path] | None = FileOpt,
          project_name: str | None = ProjectOpt, json_output: bool = JsonOpt):
    """Start stopped services, exactly as they were decided."""
    _lifecycle(ctx, "start", services, file, project_name, json_output)


@reports_errors
def restart(ctx: typer.Context, services: list[str] | None = ServicesArg, file: list[Path] | None = FileOpt,
            project_name: str | None = ProjectOpt, json_output: bool = JsonOpt):
    """Restart services (the same decided containers; `spin up --force-recreate` makes new ones)."""
    _lifecycle(ctx, "restart", services, file, project_name, json_output)


@reports_errors
def exec_(ctx: typer.Context, service: str = typer.Argument(..., help="The service to run the command in"),
          command: list[str] = typer.Argument(..., help="The command and its arguments"),
          file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
          no_tty: bool = typer.Option(False, "-T", "--no-TTY", help="Accepted for docker compose habits: spin exec "
                                      "never allocates a terminal"),
          timeout: float = typer.Option(60, "--timeout", help="Seconds the command may run"),
          json_output: bool = JsonOpt):
    """Run a command in a running service, decided by the policy and audited. Exits with the command's code."""
    o = merged(ctx, file, project_name, json_output=json_output)
    result = o.client().request("POST", f"/v1/projects/{o.project()}/exec",
                                json={"service": service, "command": list(command), "timeout": timeout})
    if o.as_json:
        o.render.json(result)
    else:
        sys.stdout.write(result["output"])
        sys.stdout.flush()
    if result["exit_code"]:
        raise typer.Exit(result["exit_code"])



@reports_errors
def scale(ctx: typer.Context, settings: list[str] = typer.Argument(..., help="SERVICE=REPLICAS, one or more"),
          file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
          env_file: list[Path] | None = EnvFileOpt, profile: list[str] | None = ProfileOpt,
          wait: bool = typer.Option(False, "--wait", help="Wait until every service is running"),
          facility_project: str | None = FacilityProjectOpt,
          json_output: bool = JsonOpt):
    """Set services' replica counts: an `up` of the compose file with deploy.replicas changed, decided as one."""
    from spin_gateway.compose_loader.model import did_you_mean

    o = merged(ctx, file, project_name, env_file, profile, json_output)
    project = o.load()
    model = inline_file_sources(project.model)
    for setting in settings:
        service, sep, count = setting.partition("=")
        if not sep or not count.isdigit():
            raise UsageError(f"{setting!r} is not SERVICE=REPLICAS", hint="For example: spin scale web=3 worker=2")
        if service not in model["services"]:
            raise UsageError(f"the compose file has no service {service!r}"
                             f"{did_you_mean(service, list(model['services']))}",
                             hint="`spin config` shows the services.")
        svc = model["services"][service]
        svc.pop("scale", None)
        svc.setdefault("deploy", {})["replicas"] = int(count)
    _put(o, project.name, model, wait=wait, facility_project=facility_project)


@reports_errors
def pull(ctx: typer.Context, services: list[str] | None = typer.Argument(None), json_output: bool = JsonOpt):
    """Images are pulled by the backend when `spin up` starts a service; this says so and does nothing."""
    raise UsageError("spin pull has nothing to do: the gateway's backend pulls each image from the site's "
                     "registries when `spin up` starts the service, and a missing image fails that `up` with exit 4",
                     hint="Run `spin up --wait`; `spin check` shows whether the site's registries allow each image.")


@reports_errors
def build(ctx: typer.Context, services: list[str] | None = typer.Argument(None), json_output: bool = JsonOpt):
    """The gateway builds no images; this says so, and what to do instead."""
    raise UsageError(f"spin build: {NO_BUILD}", hint=NO_BUILD_HINT)


@reports_errors
def run(ctx: typer.Context, service: str = typer.Argument(..., help="The service whose image and settings to use"),
        command: list[str] | None = typer.Argument(None, help="The command (default: the service's own)"),
        file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
        env_file: list[Path] | None = EnvFileOpt, profile: list[str] | None = ProfileOpt,
        rm: bool = typer.Option(False, "--rm", help="Remove the one-off service when it has finished"),
        timeout: float = typer.Option(600, "--timeout", help="Seconds to wait for it to finish"),
        facility_project: str | None = FacilityProjectOpt,
        json_output: bool = JsonOpt):
    """A one-off command: the service's settings with this command, run once (a Job), decided by the policy like
    any `up`; prints its output and exits with its exit code (as `docker compose run`)."""
    import copy
    import uuid

    from spin_gateway.compose_loader.model import did_you_mean

    o = merged(ctx, file, project_name, env_file, profile, json_output)
    project = o.load()
    model = inline_file_sources(project.model)
    if service not in model["services"]:
        raise UsageError(f"the compose file has no service {service!r}{did_you_mean(service, list(model['services']))}",
                         hint="`spin config` shows the services.")
    one_off = copy.deepcopy(model["services"][service])
    # As compose runs it: once, without the service's published ports, replicas or restart policy.
    for key in ("ports", "scale", "restart", "healthcheck"):
        one_off.pop(key, None)
    (one_off.get("deploy") or {}).pop("replicas", None)
    (one_off.get("deploy") or {}).pop("restart_policy", None)
    one_off["restart"] = "no"
    if command:
        # Typed on the command line, not read from a compose file: literal, so `$` is escaped as the canonical
        # model escapes it (`$$`). Compose keeps the entrypoint: so does spin.
        one_off["command"] = [arg.replace("$", "$$") for arg in command]
    name = f"{service}-run-{uuid.uuid4().hex[:6]}"
    with_run = {**model, "services": {**model["services"], name: one_off}}
    client = o.client()
    client.request("PUT", f"/v1/projects/{project.name}",
                   json={"compose": with_run, "facility_project": facility_project})
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        services = client.request("GET", f"/v1/projects/{project.name}")["services"]
        status = next((s for s in services if s["service"] == name), {})
        if _exit_code(status) is not None:
            break
        time.sleep(1)
    lines = client.request("GET", f"/v1/projects/{project.name}/logs", params={"service": name})["lines"]
    exit_code = _exit_code(status)
    if rm:
        client.request("PUT", f"/v1/projects/{project.name}", params={"remove": [name]},
                       json={"compose": model, "facility_project": facility_project})
    if o.as_json:
        o.render.json({"project": project.name, "service": name, "exit_code": exit_code, "status": status,
                       "lines": lines, "removed": rm})
    else:
        for line in lines:
            o.render.line(line.partition(" | ")[2] if " | " in line else line)
    if exit_code is None:
        raise UsageError(f"{name} did not finish within {timeout:g}s; it is still running",
                         hint=f"`spin logs -f {name}` follows it; `spin up --remove-orphans` removes it.")
    if exit_code:
        raise typer.Exit(exit_code)


def _exit_code(status: dict[str, Any]) -> int | None:
    """The one-off's exit code from its status: 0 once completed, the code the backend names, None if unfinished."""
    import re

    if status.get("state") == "completed":
        return 0
    message = status.get("message", "")
    if status.get("state", "").startswith("failed"):  # Kubernetes: the Job failed; the last exit code if known
        found = re.search(r"exit code (\d+)", message)
        return int(found.group(1)) if found else 1
    found = re.search(r"exited \(exit code (\d+)", message)  # podman: the container has exited
    return int(found.group(1)) if found else None
