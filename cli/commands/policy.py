"""Security staff: test, evaluate, bundle and describe the Rego policies, locally."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from spin_gateway.cli.errors import Refused, reports_errors
from spin_gateway.cli.options import DataOpt, JsonOpt, OpaUrlOpt, PolicyDirOpt, SiteOpt, merged
from spin_gateway.vocabulary.errors import UsageError

app = typer.Typer(no_args_is_help=True, help="Security staff: test, evaluate and describe the Rego policies.")


@app.command("test")
@reports_errors
def policy_test(ctx: typer.Context, folder: Path | None = typer.Argument(None, help="Policy folder (default: rego)"),
                policy_dir: Path = PolicyDirOpt, site_data: Path | None = SiteOpt,
                run: str | None = typer.Option(None, "--run", help="Only tests matching this regex"),
                verbose: bool = typer.Option(False, "-v", help="Also print each test's time"),
                quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only failures and the totals"),
                json_output: bool = JsonOpt):
    """Run the Rego unit tests (rules named test_*), as `opa test` would: one line per test, exit 1 on any failure."""
    from spin_gateway.policy.testing import run_tests

    o = merged(ctx, json_output=json_output)
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
        raise Refused()


@app.command("eval")
@reports_errors
def policy_eval(ctx: typer.Context, objects: Path | None = typer.Argument(None, help="YAML file of Kubernetes objects"),
                object_file: Path | None = typer.Option(None, "-o", "--object", help="YAML file of Kubernetes objects"),
                as_user: str = typer.Option(..., "--as", "--as-user", help="User name from --users"),
                users: Path = typer.Option(Path("examples/users.yaml"), "--users"),
                policy_dir: Path = PolicyDirOpt, site_data: Path | None = DataOpt,
                opa_url: str | None = OpaUrlOpt, json_output: bool = JsonOpt):
    """Decide Kubernetes objects as a given user, locally, without a gateway. Exit 1 if any is refused."""
    from spin_gateway.gateway_api.identity.users_file import UsersFileProvider
    from spin_gateway.policy.evaluate import evaluate_objects, summarise

    o = merged(ctx, json_output=json_output)
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
        raise Refused()


@app.command("bundle")
@reports_errors
def policy_bundle(ctx: typer.Context, out: Path = typer.Option(..., "-o", "--out", help="bundle.tar.gz, or a folder"),
                  policy_dir: Path = PolicyDirOpt, site_data: Path | None = DataOpt,
                  with_tests: bool = typer.Option(False, "--with-tests", help="Include the *_test.rego files"),
                  json_output: bool = JsonOpt):
    """Write the policies and site data as an OPA bundle, for `opa run --server --bundle` and --opa-url."""
    from spin_gateway.policy.opa_bundle import write_bundle

    o = merged(ctx, json_output=json_output)
    bundle = write_bundle(policy_dir, out, site_data, with_tests=with_tests)
    if o.as_json:
        return o.render.json({"out": str(out), "revision": bundle.revision, "modules": len(bundle.modules)})
    o.render.line(f"wrote {out}: {len(bundle.modules)} modules and the site data, revision {bundle.revision}")


@app.command("describe")
@reports_errors
def policy_describe(ctx: typer.Context, policy_dir: Path = PolicyDirOpt, site_data: Path | None = DataOpt,
                    json_output: bool = JsonOpt):
    """Every rule of the loaded policy library: id, title, profile, description, samples."""
    from spin_gateway.policy.describe import describe

    o = merged(ctx, json_output=json_output)
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


@app.command("status")
@reports_errors
def policy_status(ctx: typer.Context, json_output: bool = JsonOpt):
    """The gateway's live policy revision, and the last candidate it refused (exit 1 while one is refused)."""
    o = merged(ctx, json_output=json_output)
    info = o.client().request("GET", "/v1/policy")
    if o.as_json:
        o.render.json(info)
    else:
        o.render.line(f"revision {info['revision']} serving ({info['engine']}, {info['policy_dir']})")
        cache = info.get("decision_cache") or {}
        if cache.get("enabled"):
            o.render.line(f"decision cache on: {cache.get('entries', 0)} of {cache.get('size', 0)} entries, "
                          f"{cache.get('hits', 0)} hits, {cache.get('misses', 0)} misses")
        elif cache:
            o.render.line(f"decision cache off: {cache.get('reason', '')}")
        if info.get("last_reload_error"):
            o.render.line(f"refused candidate {info.get('refused_candidate') or '(unreadable)'}: {info['last_reload_error']}")
    if info.get("last_reload_error"):
        raise Refused()
