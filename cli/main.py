"""The `spin` command. Commands parse flags, call the gateway (or a local library), and render; nothing else.

Exit codes: 0 done, 1 refused by policy, 2 bad usage or bad input, 3 gateway or backend unavailable.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
import yaml

from spin_gateway.cli import config as cfg
from spin_gateway.cli.render import Renderer
from spin_gateway.vocabulary.errors import SpinError, UsageError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Run compose projects on the facility's gateway, checked by its policies.")
policy_app = typer.Typer(no_args_is_help=True, help="Security staff: test, evaluate and describe the Rego policies.")
audit_app = typer.Typer(invoke_without_command=True, help="Query and verify the decision log.")
gateway_app = typer.Typer(no_args_is_help=True, help="Run and administer the gateway itself.")
app.add_typer(policy_app, name="policy")
app.add_typer(audit_app, name="audit")
token_app = typer.Typer(no_args_is_help=True, help="Administrators: service tokens for facility systems.")
app.add_typer(gateway_app, name="gateway")
app.add_typer(token_app, name="token")


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


def _opts(ctx: typer.Context) -> Options:
    return ctx.find_root().obj or Options()


def handles_errors(fn: Callable) -> Callable:
    """The one place errors become exit codes."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = next((a for a in args if isinstance(a, typer.Context)), kwargs.get("ctx"))
        renderer = _opts(ctx).render if ctx is not None else Renderer()
        try:
            return fn(*args, **kwargs)
        except SpinError as exc:
            renderer.error(exc)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


FileOpt = typer.Option(None, "-f", "--file", help="Compose file (repeatable, merged in order)")
ProjectOpt = typer.Option(None, "-p", "--project-name", help="Project name (default: from the files' folder)")
EnvFileOpt = typer.Option(None, "--env-file", help="Alternative environment file (repeatable)")
ProfileOpt = typer.Option(None, "--profile", help="Enable a profile (repeatable)")
AllowUnsupportedOpt = typer.Option(False, "--allow-unsupported",
                                   help="Leave out compose keys that have no Kubernetes form, reporting each, instead of refusing")


@app.callback()
def root(ctx: typer.Context,
         file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
         env_file: list[Path] | None = EnvFileOpt, profile: list[str] | None = ProfileOpt,
         json_output: bool = typer.Option(False, "--json", help="Machine-readable output"),
         gateway: str | None = typer.Option(None, "--gateway", help="Gateway URL (default: SPIN_GATEWAY)"),
         token: str | None = typer.Option(None, "--token", help="Bearer token (default: SPIN_TOKEN)", hidden=True)):
    ctx.obj = Options(list(file or []), project_name, list(env_file or []), list(profile or []), json_output,
                      gateway, token)


def _merge(ctx: typer.Context, file, project_name, env_file, profile, json_output: bool = False) -> Options:
    o = _opts(ctx)
    o.files = o.files + list(file or [])
    o.project_name = project_name or o.project_name
    o.env_files = o.env_files + list(env_file or [])
    o.profiles = o.profiles + list(profile or [])
    o.as_json = o.as_json or json_output
    return o


def _load(o: Options):
    from spin_gateway.compose_loader import load_project

    return load_project(o.files, project_name=o.project_name, env_files=o.env_files or None,
                        profiles=o.profiles or None)


def _client(o: Options):
    from spin_gateway.cli.client import GatewayClient

    return GatewayClient(cfg.gateway_url(o.gateway), cfg.token(o.token))


def _warn(project) -> None:
    for w in getattr(project, "warnings", []) or []:
        sys.stderr.write(f"warning: {w}\n")


JsonOpt = typer.Option(False, "--json", help="Machine-readable output")


# -- researcher commands -------------------------------------------------------------------------

@app.command()
@handles_errors
def up(ctx: typer.Context, file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
       env_file: list[Path] | None = EnvFileOpt, profile: list[str] | None = ProfileOpt,
       wait: bool = typer.Option(False, "--wait", help="Wait until every service is running"),
       timeout: float = typer.Option(120, "--wait-timeout", "--timeout", help="Seconds to wait"),
       facility_project: str | None = typer.Option(None, "--facility-project", envvar="SPIN_FACILITY_PROJECT"),
       verbose: bool = typer.Option(False, "-v", "--verbose", help="Print every decision"),
       allow_unsupported: bool = AllowUnsupportedOpt,
       json_output: bool = JsonOpt):
    """Create or update the project's services (idempotent)."""
    from spin_gateway.cli.file_sources import inline_file_sources

    o = _merge(ctx, file, project_name, env_file, profile, json_output)
    project = _load(o)
    _warn(project)
    result = _client(o).request("PUT", f"/v1/projects/{project.name}", params={"wait": wait, "timeout": timeout},
                                json={"compose": inline_file_sources(project.model), "facility_project": facility_project,
                                      "allow_unsupported": allow_unsupported})
    o.render.plan(result, verbose=verbose)


@app.command()
@handles_errors
def check(ctx: typer.Context, file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
          env_file: list[Path] | None = EnvFileOpt, profile: list[str] | None = ProfileOpt,
          as_user: str | None = typer.Option(None, "--as", "--as-user", help="Administrators: decide as this user"),
          facility_project: str | None = typer.Option(None, "--facility-project", envvar="SPIN_FACILITY_PROJECT"),
          allow_unsupported: bool = AllowUnsupportedOpt,
          json_output: bool = JsonOpt):
    """An `up` that forwards nothing: print every call's decision. Exit 1 if any is refused."""
    from spin_gateway.cli.file_sources import inline_file_sources

    o = _merge(ctx, file, project_name, env_file, profile, json_output)
    project = _load(o)
    _warn(project)
    result = _client(o).request("POST", f"/v1/projects/{project.name}/check",
                                json={"compose": inline_file_sources(project.model), "facility_project": facility_project,
                                      "as_user": as_user, "allow_unsupported": allow_unsupported})
    o.render.plan(result, verbose=True)
    if not result["allowed"]:
        raise typer.Exit(1)


@app.command()
@handles_errors
def down(ctx: typer.Context, file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
         volumes: bool = typer.Option(False, "-v", "--volumes", help="Also remove the project's named volumes"),
         json_output: bool = JsonOpt):
    """Remove the project's services (and with -v its volumes); nothing else is touched."""
    o = _merge(ctx, file, project_name, None, None, json_output)
    name = o.project_name or _load(o).name
    result = _client(o).request("DELETE", f"/v1/projects/{name}", params={"volumes": volumes})
    o.render.plan(result)


@app.command()
@handles_errors
def ps(ctx: typer.Context, file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
       all_projects: bool = typer.Option(False, "-a", "--all", help="List every project you can see"),
       json_output: bool = JsonOpt):
    """Services of the project: ready/desired, state, ports, restarts."""
    o = _merge(ctx, file, project_name, None, None, json_output)
    client = _client(o)
    if all_projects:
        result = client.request("GET", "/v1/projects")
        if o.as_json:
            return o.render.json(result)
        return o.render.table(["PROJECT", "FACILITY PROJECT", "OWNER", "SERVICES"],
                              [[p["project"], p["facility_project"], p["owner"], ",".join(p["services"])]
                               for p in result["items"]])
    name = o.project_name or _load(o).name
    result = client.request("GET", f"/v1/projects/{name}")
    if o.as_json:
        return o.render.json(result)
    o.render.services(result["services"])


@app.command()
@handles_errors
def logs(ctx: typer.Context, service: str | None = typer.Argument(None),
         file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
         tail: int | None = typer.Option(None, "--tail", "-n"), since: str | None = typer.Option(None, "--since"),
         json_output: bool = JsonOpt):
    """Log lines of the project's services."""
    o = _merge(ctx, file, project_name, None, None, json_output)
    name = o.project_name or _load(o).name
    params = {k: v for k, v in {"service": service, "tail": tail, "since": since}.items() if v is not None}
    result = _client(o).request("GET", f"/v1/projects/{name}/logs", params=params)
    if o.as_json:
        return o.render.json(result)
    for line in result["lines"]:
        o.render.line(line)


@app.command()
@handles_errors
def convert(ctx: typer.Context, file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
            env_file: list[Path] | None = EnvFileOpt, profile: list[str] | None = ProfileOpt,
            out: Path | None = typer.Option(None, "-o", "--out", help="Write one YAML file per object here"),
            allow_unsupported: bool = AllowUnsupportedOpt,
            json_output: bool = JsonOpt):
    """The Kubernetes objects of the compose file, before policy (computed locally)."""
    from spin_gateway.cli.file_sources import inline_file_sources
    from spin_gateway.compose_loader import validate_model
    from spin_gateway.gateway_api import planning
    from spin_gateway.translate import to_kubernetes

    o = _merge(ctx, file, project_name, env_file, profile, json_output)
    project = _load(o)
    _warn(project)
    namespace = planning.namespace_for(project.name)
    labels = planning.project_labels(project.name, getpass.getuser(), os.environ.get("SPIN_FACILITY_PROJECT", ""))
    labels = {k: v for k, v in labels.items() if v}
    translation = to_kubernetes(validate_model(inline_file_sources(project.model)), project=project.name,
                                namespace=namespace, labels=labels, allow_unsupported=allow_unsupported)
    objects = [planning.namespace_object(namespace, labels), *translation.objects]
    for n in translation.notices:
        sys.stderr.write(f"notice: {n.path}: {n.action}: {n.reason}\n")
    if out:
        out.mkdir(parents=True, exist_ok=True)
        for i, obj in enumerate(objects):
            (out / f"{i:02d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml").write_text(
                yaml.safe_dump(obj, sort_keys=False))
        o.render.line(f"wrote {len(objects)} objects to {out}")
    elif o.as_json:
        o.render.json({"objects": objects, "notices": [n.model_dump() for n in translation.notices]})
    else:
        sys.stdout.write(yaml.safe_dump_all(objects, sort_keys=False))


@app.command("config")
@handles_errors
def config_cmd(ctx: typer.Context, file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
               env_file: list[Path] | None = EnvFileOpt, profile: list[str] | None = ProfileOpt,
               fmt: str = typer.Option("yaml", "--format", help="yaml or json"),
               json_output: bool = JsonOpt):
    """The canonical compose model, as `docker compose config` prints it."""
    o = _merge(ctx, file, project_name, env_file, profile, json_output)
    project = _load(o)
    _warn(project)
    if fmt == "json" or o.as_json:
        o.render.json(project.model)
    elif fmt == "yaml":
        sys.stdout.write(yaml.safe_dump(project.model, sort_keys=False))
    else:
        raise UsageError(f"unknown format {fmt!r}: use yaml or json")


@app.command()
@handles_errors
def login(ctx: typer.Context, user: str | None = typer.Option(None, "--user", "-u"),
          password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input"),
          json_output: bool = JsonOpt):
    """Exchange your facility password once for a signed, expiring token (stored with mode 0600)."""
    o = _merge(ctx, None, None, None, None, json_output)
    user = user or getpass.getuser()
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass(f"Password for {user}: ")
    if not password:
        raise UsageError("an empty password is refused", hint="Type your facility password.")
    from spin_gateway.cli.client import GatewayClient

    url = cfg.gateway_url(o.gateway)
    result = GatewayClient(url, None).request("POST", "/v1/login", json={"username": user, "password": password})
    path = cfg.write_config({"gateway": url, "token": result["token"]})
    if o.as_json:
        return o.render.json({k: v for k, v in result.items() if k != "token"} | {"config": str(path)})
    o.render.line(f"logged in as {result['user']}; token stored in {path}")


@app.command()
@handles_errors
def whoami(ctx: typer.Context, json_output: bool = JsonOpt):
    """Who the gateway thinks you are: uid, gid, groups, projects."""
    o = _merge(ctx, None, None, None, None, json_output)
    result = _client(o).request("GET", "/v1/whoami")
    if o.as_json:
        return o.render.json(result)
    o.render.line(f"{result['name']} uid={result['uid']} gid={result['gid']} projects={','.join(result['projects'])}"
                  + (" (admin)" if result["admin"] else ""))


# -- security staff: policy --------------------------------------------------------------------

PolicyDirOpt = typer.Option(Path("rego"), "--policy-dir", help="Folder of Rego policies")
SiteOpt = typer.Option(None, "--site-data", help="Site data YAML (default: <policy-dir>/site.yaml)")
OpaUrlOpt = typer.Option(None, "--opa-url", help="Decide with this OPA server (rego/ loaded as a bundle) instead of the "
                         "embedded engine")


@policy_app.command("test")
@handles_errors
def policy_test(ctx: typer.Context, folder: Path | None = typer.Argument(None, help="Policy folder (default: rego)"),
                policy_dir: Path = PolicyDirOpt, site_data: Path | None = SiteOpt,
                run: str | None = typer.Option(None, "--run", help="Only tests matching this regex"),
                verbose: bool = typer.Option(False, "-v", help="Also print each test's time"),
                quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only failures and the totals"),
                json_output: bool = JsonOpt):
    """Run the Rego unit tests (rules named test_*), as `opa test` would: one line per test, exit 1 on any failure."""
    from spin_gateway.policy.testing import run_tests

    o = _merge(ctx, None, None, None, None, json_output)
    report = run_tests(folder or policy_dir, site_data, run)
    if o.as_json:
        o.render.json({"revision": report.revision, "passed": report.passed, "failed": report.failed,
                       "results": [vars(r) for r in report.results]})
    else:
        for r in report.results:
            if not quiet or not r.passed:
                o.render.line(f"{'PASS' if r.passed else 'FAIL'}: {r.package}.{r.name} ({r.file})"
                              + (f" {r.duration_ms:.1f} ms" if verbose else "") + (f": {r.error}" if r.error else ""))
        o.render.line(f"{report.passed} passed, {report.failed} failed")
    if report.failed or not report.results:
        raise typer.Exit(1)


@policy_app.command("eval")
@handles_errors
def policy_eval(ctx: typer.Context, objects: Path | None = typer.Argument(None, help="YAML file of Kubernetes objects"),
                object_file: Path | None = typer.Option(None, "-o", "--object", help="YAML file of Kubernetes objects"),
                as_user: str = typer.Option(..., "--as", "--as-user", help="User name from --users"),
                users: Path = typer.Option(Path("examples/users.yaml"), "--users"),
                policy_dir: Path = PolicyDirOpt,
                site_data: Path | None = typer.Option(None, "--data", "--site-data",
                                                         help="Site data YAML (default: <policy-dir>/site.yaml)"),
                opa_url: str | None = OpaUrlOpt, json_output: bool = JsonOpt):
    """Decide Kubernetes objects as a given user, locally, without a gateway. Exit 1 if any is refused."""
    from spin_gateway.gateway_api.identity.users_file import UsersFileProvider
    from spin_gateway.policy.evaluate import evaluate_objects, summarise

    o = _merge(ctx, None, None, None, None, json_output)
    path = object_file or objects
    if path is None:
        raise UsageError("no objects to decide", hint="Pass -o OBJECT.yaml.")
    identity = UsersFileProvider(users).lookup(as_user)
    decisions = evaluate_objects(path, identity, policy_dir, site_data, opa_url=opa_url)
    if o.as_json:
        o.render.json(summarise(decisions))
    else:
        for d in decisions:
            o.render.line(f"{'allow' if d.allowed else 'deny '}  {d.kind}/{d.name}")
            for v in d.violations:
                o.render.line(f"       [{v.rule}] {v.message} at {v.path}")
            for p in d.patches:
                o.render.line(f"       patch {p['op']} {p['path']} = {json.dumps(p.get('value'))}")
            for w in d.warnings:
                o.render.line(f"       warning: {w}")
    if not all(d.allowed for d in decisions):
        raise typer.Exit(1)


@policy_app.command("bundle")
@handles_errors
def policy_bundle(ctx: typer.Context, out: Path = typer.Option(..., "-o", "--out", help="bundle.tar.gz, or a folder"),
                  policy_dir: Path = PolicyDirOpt,
                  site_data: Path | None = typer.Option(None, "--data", "--site-data",
                                                           help="Site data YAML (default: <policy-dir>/site.yaml)"),
                  with_tests: bool = typer.Option(False, "--with-tests", help="Include the *_test.rego files"),
                  json_output: bool = JsonOpt):
    """Write the policies and site data as an OPA bundle, for `opa run --server --bundle` and --opa-url."""
    from spin_gateway.policy.opa_bundle import write_bundle

    o = _merge(ctx, None, None, None, None, json_output)
    bundle = write_bundle(policy_dir, out, site_data, with_tests=with_tests)
    if o.as_json:
        return o.render.json({"out": str(out), "revision": bundle.revision, "modules": len(bundle.modules)})
    o.render.line(f"wrote {out}: {len(bundle.modules)} modules and the site data, revision {bundle.revision}")


@policy_app.command("describe")
@handles_errors
def policy_describe(ctx: typer.Context, policy_dir: Path = PolicyDirOpt,
                    site_data: Path | None = typer.Option(None, "--data", "--site-data",
                                                             help="Site data YAML (default: <policy-dir>/site.yaml)"),
                    json_output: bool = JsonOpt):
    """Every rule of the loaded policy library: id, title, profile, description, samples."""
    from spin_gateway.policy.describe import describe

    o = _merge(ctx, None, None, None, None, json_output)
    library = describe(policy_dir, site_data)
    if o.as_json:
        return o.render.json(library)
    o.render.line(f"policy revision {library['revision']}; Pod Security profile enforced: {library['pod_security']}")
    for rule in library["rules"]:
        o.render.line("")
        o.render.line(f"{rule['id']}  ({rule['profile']})  {rule['title']}")
        o.render.line(f"    {rule['description']}")
        o.render.line(f"    package {rule['package']}")
        for sample in rule["samples"]:
            o.render.line(f"    {sample['expect']:<7} {sample['file']}" + (f"  (as {sample['as']})" if sample["as"] else ""))


# -- security staff: audit ---------------------------------------------------------------------

@audit_app.callback()
@handles_errors
def audit(ctx: typer.Context, user: str | None = typer.Option(None, "--user"),
          project: str | None = typer.Option(None, "--project"),
          decision: str | None = typer.Option(None, "--decision", help="allow or deny"),
          rule: str | None = typer.Option(None, "--rule", help="Records that violated this rule id"),
          since: datetime | None = typer.Option(None, "--since", help="ISO time, e.g. 2026-11-24T00:00:00+00:00"),
          until: datetime | None = typer.Option(None, "--until"),
          limit: int = typer.Option(100, "--limit", help="The newest N records"),
          record_type: str | None = typer.Option(None, "--type", help="decision | forward | access | token | recovery"),
          log: Path | None = typer.Option(None, "--log", help="Read this audit log file instead of asking the gateway"),
          json_output: bool = JsonOpt):
    """Query the decision log (the gateway's, or a local file with --log)."""
    if ctx.invoked_subcommand:
        return
    o = _merge(ctx, None, None, None, None, json_output)
    if log:
        import collections

        from spin_gateway.audit.query import AuditFilter, query

        flt = AuditFilter(user=user, project=project, decision=decision, rule=rule, since=since, until=until,
                          type=record_type)
        items = list(collections.deque(query(log, flt), maxlen=limit))
    else:
        params = {"user": user, "project": project, "decision": decision, "rule": rule, "limit": limit, "type": record_type,
                  "since": since.isoformat() if since else None, "until": until.isoformat() if until else None}
        items = _client(o).request("GET", "/v1/audit", params={k: v for k, v in params.items() if v})["items"]
    if o.as_json:
        return o.render.json(items)
    for r in items:
        what = f"{(r.get('object') or {}).get('kind', '')}/{(r.get('object') or {}).get('name', '')}"
        verdict = r.get("decision") or r.get("backend_result", "")
        rules = ",".join(v["rule"] for v in r.get("violations") or [])
        o.render.line(f"{r['time']}  {r.get('type', ''):<8} {(r.get('user') or {}).get('name', ''):<10} "
                      f"{r.get('project', '') or '':<16} {r.get('operation', ''):<5} {what:<32} {verdict}"
                      + (f" [{rules}]" if rules else ""))


@audit_app.command("verify")
@handles_errors
def audit_verify(ctx: typer.Context, log: Path = typer.Option(Path("state/audit.log"), "--log"),
                 key: Path | None = typer.Option(None, "--key", help="The gateway's audit.key: also check every HMAC "
                                                    "(default: audit.key beside the log, if readable)"),
                 pruned: bool = typer.Option(False, "--pruned", help="The oldest rotated files were archived or "
                                             "removed on purpose: start the chain at the oldest file here"),
                 json_output: bool = JsonOpt):
    """Check the hash chain (and HMACs) of the audit log: exit 1 and name the place if anything was edited."""
    from spin_gateway.audit.verify import verify

    o = _merge(ctx, None, None, None, None, json_output)
    key_path = key or (log.parent / "audit.key")
    if key is not None and not key_path.exists():
        raise UsageError(f"no audit key at {key_path}")
    secret = key_path.read_bytes().strip() if key_path.exists() else None
    report = verify(log, key=secret, pruned=pruned)
    if o.as_json:
        o.render.json(vars(report))
    elif report.ok:
        o.render.line(f"ok: {report.records} records in {len(report.files)} file(s), chain intact"
                      + (", every HMAC verified" if secret else " (no key: HMACs not checked)")
                      + (", nothing cut off the end (head file)" if report.head == "ok"
                         else f" (head file {report.head}: truncation not checked)"))
        for note in report.notes:
            o.render.line(f"note: {note}")
    else:
        o.render.line(f"TAMPERED: {report.file}:{report.line}"
                      + (f" (record {report.record_id})" if report.record_id else "")
                      + f": {report.problem} ({report.records} records verified before it)")
    if not report.ok:
        raise typer.Exit(1)


# -- administrators: service tokens ------------------------------------------------------------

@token_app.command("create")
@handles_errors
def token_create(ctx: typer.Context, name: str = typer.Argument(..., help="What the token is for, e.g. slurm-prologue"),
                 for_user: list[str] | None = typer.Option(None, "--for-user", help="A user it may act for (repeatable)"),
                 for_project: list[str] | None = typer.Option(None, "--for-project",
                                                                 help="A facility project whose members it may act for"),
                 operations: str = typer.Option("up,down,check,read", "--operations"),
                 ttl_days: float = typer.Option(30, "--ttl-days"), json_output: bool = JsonOpt):
    """Create a scoped, expiring service token; it is printed once."""
    o = _merge(ctx, None, None, None, None, json_output)
    result = _client(o).request("POST", "/v1/tokens", json={
        "name": name, "users": list(for_user or []), "projects": list(for_project or []),
        "operations": [op.strip() for op in operations.split(",") if op.strip()], "ttl_seconds": int(ttl_days * 86400)})
    if o.as_json:
        return o.render.json(result)
    o.render.line(result["token"])
    sys.stderr.write(f"token {result['record']['id']} ({name}) expires at {result['record']['expires_at']}; "
                     "store it now, it is not shown again\n")


@token_app.command("list")
@handles_errors
def token_list(ctx: typer.Context, json_output: bool = JsonOpt):
    """Service tokens the gateway issued (ids only, never the tokens)."""
    o = _merge(ctx, None, None, None, None, json_output)
    result = _client(o).request("GET", "/v1/tokens")
    if o.as_json:
        return o.render.json(result)
    o.render.table(["ID", "NAME", "USERS", "PROJECTS", "OPERATIONS", "EXPIRES", "REVOKED"],
                   [[r["id"], r["name"], ",".join(r["scope"]["users"]), ",".join(r["scope"]["projects"]),
                     ",".join(r["scope"]["operations"]), r["expires_at"], r["revoked_at"] or ""] for r in result])


@token_app.command("revoke")
@handles_errors
def token_revoke(ctx: typer.Context, token_id: str = typer.Argument(...), json_output: bool = JsonOpt):
    """Revoke a service token at once."""
    o = _merge(ctx, None, None, None, None, json_output)
    result = _client(o).request("DELETE", f"/v1/tokens/{token_id}")
    if o.as_json:
        return o.render.json(result)
    o.render.line(f"revoked {result['id']} ({result['name']})")


# -- the gateway itself ------------------------------------------------------------------------

@gateway_app.command("serve")
@handles_errors
def gateway_serve(host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(8470, "--port"),
                  backend: str = typer.Option("podman", "--backend", help="podman | kubernetes | manifests"),
                  manifests_dir: Path = typer.Option(Path("state/manifests"), "--manifests-dir"),
                  kubeconfig: str | None = typer.Option(None, "--kubeconfig"),
                  context: str | None = typer.Option(None, "--context"),
                  identity: str = typer.Option("users", "--identity", help="users | ldap"),
                  users: Path = typer.Option(Path("examples/users.yaml"), "--users"),
                  identity_config: Path | None = typer.Option(None, "--ldap-config", "--identity-config",
                                                                   help="LDAP settings (YAML) for --identity ldap"),
                  policy_dir: Path = typer.Option(Path("rego"), "--policy-dir"),
                  site_data: Path | None = typer.Option(None, "--site-data"),
                  policy_timeout: float = typer.Option(2.0, "--policy-timeout"),
                  opa_url: str | None = OpaUrlOpt,
                  audit_log: Path = typer.Option(Path("state/audit.log"), "--audit-log"),
                  audit_stdout: bool = typer.Option(False, "--audit-stdout", help="Also write audit records to stdout"),
                  state_dir: Path = typer.Option(Path("state"), "--state-dir"),
                  workers: int = typer.Option(1, "--workers"),
                  trusted_proxy: list[str] = typer.Option(
                      [], "--trusted-proxy",
                      help="Address or network (CIDR) of a reverse proxy whose X-Forwarded-For is believed; "
                           "repeat for several. Without one, the audit's source is the connecting address.")):
    """Run the gateway (FastAPI on uvicorn)."""
    from spin_gateway.gateway_api.go_runtime import restart_with_defaults

    restart_with_defaults()  # GOGC/GOMEMLIMIT for the embedded OPA engine, unless the operator set them
    import uvicorn

    from spin_gateway.gateway_api.settings import Settings

    settings = Settings(host=host, port=port, backend=backend, manifests_dir=manifests_dir, kubeconfig=kubeconfig,
                        kube_context=context, identity=identity, users=users, identity_config=identity_config,
                        policy_dir=policy_dir, site_data=site_data, policy_timeout=policy_timeout,
                        opa_url=opa_url, audit_log=audit_log, audit_stdout=audit_stdout, state_dir=state_dir,
                        trusted_proxies=trusted_proxy)
    os.environ["SPIN_GATEWAY_SETTINGS"] = settings.model_dump_json()
    if workers > 1:
        uvicorn.run("spin_gateway.gateway_api.asgi:app", host=host, port=port, workers=workers, log_level="warning",
                    proxy_headers=False)
    else:
        from spin_gateway.gateway_api.app import build_app

        # proxy_headers off: uvicorn would take X-Forwarded-For from any local client; the app decides whom to
        # believe (Settings.trusted_proxies).
        uvicorn.run(build_app(settings), host=host, port=port, log_level="warning", proxy_headers=False)


@gateway_app.command("token")
@handles_errors
def gateway_token(user: str = typer.Option(..., "--user"), state_dir: Path = typer.Option(Path("state"), "--state-dir"),
                  ttl: int = typer.Option(12 * 3600, "--ttl", help="Seconds")):
    """Mint a user token with the gateway's signing key (on the gateway's machine; needs read access to the key)."""
    from spin_gateway.gateway_api.auth.tokens import TokenSigner, load_or_create_key

    token, _claims = TokenSigner(load_or_create_key(state_dir / "signing.key")).issue(user, ttl=ttl)
    sys.stdout.write(token + "\n")


@gateway_app.command("hash-password")
def gateway_hash_password():
    """Read a password on stdin and print its scrypt hash for the users file."""
    from spin_gateway.gateway_api.identity.users_file import hash_password

    sys.stdout.write(hash_password(sys.stdin.readline().rstrip("\n")) + "\n")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
