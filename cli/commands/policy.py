"""Security staff: test, evaluate, bundle and describe the Rego policies, locally."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from spin_gateway.cli.errors import Refused, reports_errors
from spin_gateway.cli.options import DataOpt, JsonOpt, OpaUrlOpt, PolicyDirOpt, SiteOpt, merged
from spin_gateway.vocabulary.errors import UsageError

app = typer.Typer(no_args_is_help=True, help="Security staff: test, evaluate and describe the Rego policies.")


UsersOpt = typer.Option(None, "--users", envvar="SPIN_USERS",
                        help="The users file the `--as` names are read from (default: SPIN_USERS, else "
                             "examples/users.yaml when run in a spin checkout)")
_DEMO_USERS = Path("examples/users.yaml")


def users_file(given: Path | None, needed_for: str) -> Path:
    """The users file to read identities from: the flag (or SPIN_USERS), else the checkout's demo users.

    Outside a checkout there is no sensible default (the demo users are not a facility's), so the error
    names the flag instead of the unreadable path.
    """
    if given is not None:
        if not given.is_file():
            raise UsageError(f"no users file at {given}", hint="Pass --users FILE: a users file as in examples/users.yaml.")
        return given
    if _DEMO_USERS.is_file():
        return _DEMO_USERS
    raise UsageError(f"{needed_for} needs a users file to know who the user is, and none was given",
                     hint="Pass --users FILE (or set SPIN_USERS): the facility's users, shaped as examples/users.yaml "
                          "in the spin repository.")


def _lookup(users: Path):
    from spin_gateway.gateway_api.identity.users_file import UsersFileProvider

    provider = UsersFileProvider(users)
    return lambda name: provider.lookup(name)


@app.command("test")
@reports_errors
def policy_test(ctx: typer.Context, folder: Path | None = typer.Argument(None, help="Policy folder (default: rego)"),
                policy_dir: Path = PolicyDirOpt, site_data: Path | None = SiteOpt,
                run: str | None = typer.Option(None, "--run", help="Only tests (and samples) matching this regex"),
                users: Path | None = UsersOpt,
                samples: bool = typer.Option(True, "--samples/--no-samples",
                                             help="Also decide every rule's samples/ (allowed_*.yaml, denied_*.yaml)"),
                verbose: bool = typer.Option(False, "-v", help="Also print the revision and the time taken"),
                quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only failures and the totals"),
                json_output: bool = JsonOpt):
    """Run the Rego unit tests (rules named test_*), as `opa test` would, and decide each rule's samples.

    One line per test and sample; a failure says where it stopped and with which values. Exit 1 on any failure.
    """
    import re
    import time

    from spin_gateway.policy.samples import SampleResult, check_samples
    from spin_gateway.policy.testing import run_tests

    o = merged(ctx, json_output=json_output)
    started = time.perf_counter()
    folder = folder or policy_dir
    report = run_tests(folder, site_data, run)
    checked: list[SampleResult] = []
    note = ""
    if samples:
        try:
            lookup = _lookup(users_file(users, "deciding the samples"))
        except UsageError as exc:
            if users is not None:
                raise
            note = f"samples not decided: {exc.message}; {exc.hint}"
        else:
            checked = [s for s in check_samples(folder, site_data, report.rule_ids, lookup)
                       if not run or re.search(run, s.file)]
    elapsed = time.perf_counter() - started
    failed = report.failed + sum(not s.passed for s in checked)
    if o.as_json:
        o.render.json({"revision": report.revision, "passed": report.passed, "failed": report.failed,
                       "duration_ms": round(elapsed * 1000, 1),
                       "results": [{**vars(r), "location": r.location} for r in report.results],
                       "samples": [vars(s) for s in checked], "samples_failed": sum(not s.passed for s in checked),
                       **({"note": note} if note else {})})
    else:
        for r in report.results:
            if not quiet or not r.passed:
                o.render.line(f"{'PASS' if r.passed else 'FAIL'}: {r.package}.{r.name} ({r.location})"
                              + (f": {r.error}" if r.error else ""))
                for line in r.explanation:
                    o.render.line(f"    {line}")
        for s in checked:
            if not quiet or not s.passed:
                o.render.line(f"{'PASS' if s.passed else 'FAIL'}: sample {s.file} (as {s.as_user}): expected "
                              f"{s.expect}" + (f" by {s.rule}" if s.expect == "denied" else "") + f", {s.got}")
                for line in s.explanation:
                    o.render.line(f"    {line}")
        if note:
            o.render.line(note)
        o.render.line(f"{report.passed} passed, {report.failed} failed"
                      + (f"; samples: {sum(s.passed for s in checked)} as expected, "
                         f"{sum(not s.passed for s in checked)} not" if checked else "")
                      + (f" in {elapsed:.2f} s (revision {report.revision})" if verbose else ""))
    if failed or not report.results:
        raise Refused()


@app.command("eval")
@reports_errors
def policy_eval(ctx: typer.Context,
                objects: Path | None = typer.Argument(None, help="YAML file(s) of Kubernetes objects, or a folder of them "
                                                                 "(what `spin convert -o DIR` writes)"),
                object_file: Path | None = typer.Option(None, "-o", "--object", help="The same, as an option"),
                as_user: str = typer.Option(..., "--as", "--as-user", help="User name from --users"),
                users: Path | None = UsersOpt,
                policy_dir: Path = PolicyDirOpt, site_data: Path | None = DataOpt,
                opa_url: str | None = OpaUrlOpt, json_output: bool = JsonOpt):
    """Decide Kubernetes objects as a given user, locally, without a gateway. Exit 1 if any is refused.

    Every object of every file is decided: documents separated by `---`, `kind: List` items, and every
    .yaml/.yml/.json file of a folder. Objects run together without `---` are refused, naming the line.
    """
    from spin_gateway.policy.evaluate import evaluate_objects, summarise

    o = merged(ctx, json_output=json_output)
    path = object_file or objects
    if path is None:
        raise UsageError("no objects to decide", hint="Pass a file or folder of objects, e.g. spin policy eval objects.yaml --as alice.")
    identity = _lookup(users_file(users, f"--as {as_user}"))(as_user)
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
        o.render.line(f"{len(decisions)} object(s) decided as {as_user}: "
                      f"{sum(d.allowed for d in decisions)} allowed, {sum(not d.allowed for d in decisions)} refused")
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
    """The gateway's live policy revision, when and how it loaded, and the last candidate it refused
    (exit 1 while one is refused: the files on disk are not what decides)."""
    o = merged(ctx, json_output=json_output)
    info = o.client().request("GET", "/v1/policy")
    if o.as_json:
        o.render.json(info)
    else:
        o.render.line(f"revision {info['revision']} serving ({info['engine']}, {info['policy_dir']})")
        if info.get("loaded_at"):
            o.render.line(f"loaded {info['loaded_at']} ({info.get('loaded_by') or 'start'})"
                          + (f"; folder last checked {info['checked_at']}" if info.get("checked_at") else ""))
        cache = info.get("decision_cache") or {}
        if cache.get("enabled"):
            o.render.line(f"decision cache on: {cache.get('entries', 0)} of {cache.get('size', 0)} entries, "
                          f"{cache.get('hits', 0)} hits, {cache.get('misses', 0)} misses")
        elif cache:
            o.render.line(f"decision cache off: {cache.get('reason', '')}")
        if info.get("last_reload_error"):
            o.render.line(f"refused candidate {info.get('refused_candidate') or '(unreadable)'}"
                          + (f" since {info['refused_at']}" if info.get("refused_at") else "")
                          + f": {info['last_reload_error']}")
            o.render.line("the gateway reports not ready (/readyz 503) until the folder loads again")
        else:
            o.render.line("the folder on disk is what decides")
    if info.get("last_reload_error"):
        raise Refused()
