"""Security staff: query the decision log (the gateway's or a local file) and verify its chain."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
import yaml

from spin_gateway.audit.query import WHEN_HELP
from spin_gateway.cli.errors import Refused, reports_errors
from spin_gateway.cli.options import JsonOpt, merged
from spin_gateway.vocabulary.errors import UsageError

app = typer.Typer(invoke_without_command=True, help="Query and verify the decision log.")


@app.callback()
@reports_errors
def audit(ctx: typer.Context, user: str | None = typer.Option(None, "--user"),
          project: str | None = typer.Option(None, "--project"),
          decision: str | None = typer.Option(None, "--decision", help="allow or deny"),
          rule: str | None = typer.Option(None, "--rule", help="Records that violated this rule id"),
          since: str | None = typer.Option(None, "--since", help="From this time on: " + WHEN_HELP),
          until: str | None = typer.Option(None, "--until", help="Up to this time (the same forms as --since)"),
          request_id: str | None = typer.Option(None, "--request-id", help="The records of one request (every answer "
                                                "and error names its request_id)"),
          limit: int = typer.Option(100, "--limit", min=1, max=10000, help="The newest N records (a page)"),
          cursor: str | None = typer.Option(None, "--cursor", help="The next page: the records older than the cursor "
                                            "the previous page printed"),
          record_type: str | None = typer.Option(None, "--type", help="decision | forward | drift | access | token | "
                                                 "recovery | login | reload | refusal | gap"),
          log: Path | None = typer.Option(None, "--log", help="Read this audit log file (or folder of chains, one "
                                          "per replica) instead of asking the gateway"),
          json_output: bool = JsonOpt):
    """Query the decision log (the gateway's, or a local file with --log), newest page first.

    Times without a zone are this machine's local time. When more records match than --limit, the last line
    (on stderr with --json) says so and gives the --cursor of the next page.
    """
    if ctx.invoked_subcommand:
        return
    from spin_gateway.audit.query import parse_when

    o = merged(ctx, json_output=json_output)
    after = parse_when(since) if since else None
    before = parse_when(until) if until else None
    if log:
        from spin_gateway.audit.query import AuditFilter, page, query

        flt = AuditFilter(user=user, project=project, decision=decision, rule=rule, since=after, until=before,
                          type=record_type, request_id=request_id)
        items, next_cursor = page(query(log, flt), limit, cursor)
    else:
        params = {"user": user, "project": project, "decision": decision, "rule": rule, "limit": limit,
                  "type": record_type, "request_id": request_id, "cursor": cursor,
                  "since": after.isoformat() if after else None, "until": before.isoformat() if before else None}
        answer = o.client().request("GET", "/v1/audit", params={k: v for k, v in params.items() if v})
        items, next_cursor = answer["items"], answer.get("next_cursor")
    more = (f"more records match: these are the newest {len(items)}; the next page: "
            f"spin audit ... --cursor {next_cursor} (same filters), or a larger --limit") if next_cursor else ""
    if o.as_json:
        o.render.json(items)
        if more:
            sys.stderr.write(more + "\n")
        return
    o.render.audit_records(items)
    o.render.line(more or f"{len(items)} record(s); no more match")


@app.command("show")
@reports_errors
def audit_show(ctx: typer.Context, request_id: str = typer.Argument(..., help="The request's id (request_id)"),
               log: Path | None = typer.Option(None, "--log", help="Read this audit log file (and the objects kept "
                                                 "beside it) instead of asking the gateway"),
               json_output: bool = JsonOpt):
    """One request: its records, the compose model it submitted and every object as decided (secrets redacted)."""
    o = merged(ctx, json_output=json_output)
    if log:
        from spin_gateway.audit.show import show_request

        answer = show_request(log, request_id)
    else:
        answer = o.client().request("GET", f"/v1/audit/requests/{request_id}")
    if o.as_json:
        return o.render.json(answer)
    o.render.audit_records(answer["records"])
    if answer.get("model_digest"):
        o.render.line(f"# compose model {answer['model_digest']}")
        o.render.line(yaml.safe_dump(answer.get("model"), sort_keys=False).rstrip())
    for item in answer.get("objects") or []:
        o.render.line(f"--- # {item['decision']} {item['kind']}/{item['name']} {item['digest']}")
        o.render.line(yaml.safe_dump(item.get("object"), sort_keys=False).rstrip())
    if answer.get("missing"):
        o.render.line(f"not kept: {', '.join(answer['missing'])} (pruned with the records that named them)")


@app.command("prune-objects")
@reports_errors
def audit_prune_objects(ctx: typer.Context, log: Path = typer.Option(Path("state/audit.log"), "--log"),
                        json_output: bool = JsonOpt):
    """After rotated log files were archived or removed: remove the kept objects no remaining record names."""
    from spin_gateway.audit.show import prune_objects

    o = merged(ctx, json_output=json_output)
    removed, kept = prune_objects(log)
    if o.as_json:
        return o.render.json({"removed": removed, "kept": kept})
    o.render.line(f"removed {removed} object(s) no record names; {kept} kept")


@app.command("verify")
@reports_errors
def audit_verify(ctx: typer.Context, log: Path = typer.Option(Path("state/audit.log"), "--log",
                                                            help="One log file, or a folder of chains (one per "
                                                                 "replica: --audit-dir)"),
                 key: Path | None = typer.Option(None, "--key", help="The gateway's audit key, or its key ring (a "
                                                    "folder of <kid> files): also check every HMAC (default: "
                                                    "audit.key beside the log, if readable)"),
                 pruned: bool = typer.Option(False, "--pruned", help="The oldest rotated files were archived or "
                                             "removed on purpose: start the chain at the oldest file here"),
                 json_output: bool = JsonOpt):
    """Check the hash chain (and HMACs) of the audit log: exit 1 and name the place if anything was edited."""
    from spin_gateway.audit.verify import verify
    from spin_gateway.vocabulary.keys import read_ring

    o = merged(ctx, json_output=json_output)
    folder = log.is_dir()
    key_path = key or ((log if folder else log.parent) / "audit.key")
    if key is not None and not key_path.exists():
        raise UsageError(f"no audit key at {key_path}")
    secret = read_ring(key_path, "audit key") if key_path.exists() else None
    if folder:
        return _verify_folder(o, log, secret, pruned)
    report = verify(log, key=secret, pruned=pruned)
    if o.as_json:
        o.render.json(vars(report))
    elif report.ok:
        o.render.line(_ok_line(report, secret is not None))
        for note in report.notes:
            o.render.line(f"note: {note}")
    else:
        o.render.line(_tampered_line(report))
    if not report.ok:
        raise Refused()


def _ok_line(report, keyed: bool) -> str:
    return (f"ok: {report.records} records in {len(report.files)} file(s), chain intact"
            + (", every HMAC verified" if keyed else " (no key: HMACs not checked)")
            + (", nothing cut off the end (head file)" if report.head == "ok"
               else f" (head file {report.head}: truncation not checked)"))


def _tampered_line(report) -> str:
    return (f"TAMPERED: {report.file}:{report.line}" + (f" (record {report.record_id})" if report.record_id else "")
            + f": {report.problem} ({report.records} records verified before it)")


def _verify_folder(o, folder: Path, secret, pruned: bool) -> None:
    """Every replica's chain, each on its own: the records per replica, and which chain is broken."""
    from spin_gateway.audit.chains import verify_folder

    result = verify_folder(folder, secret, pruned=pruned)
    if o.as_json:
        o.render.json({"ok": result.ok, "records": result.records, "broken": result.broken,
                       "chains": {name: vars(r) for name, r in result.chains.items()}})
    else:
        for name, report in result.chains.items():
            line = _ok_line(report, secret is not None) if report.ok else _tampered_line(report)
            o.render.line(f"{name}: {line}")
            for note in report.notes if report.ok else []:
                o.render.line(f"{name}: note: {note}")
        o.render.line(f"{'ok' if result.ok else 'TAMPERED'}: {len(result.chains)} chain(s), {result.records} records"
                      + (f"; broken: {', '.join(result.broken)}" if result.broken else ", every chain intact"))
    if not result.ok:
        raise Refused()
