"""Security staff: query the decision log (the gateway's or a local file) and verify its chain."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

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
          since: datetime | None = typer.Option(None, "--since", help="ISO time, e.g. 2026-11-24T00:00:00+00:00"),
          until: datetime | None = typer.Option(None, "--until"),
          limit: int = typer.Option(100, "--limit", help="The newest N records"),
          record_type: str | None = typer.Option(None, "--type", help="decision | forward | drift | access | token | recovery"),
          log: Path | None = typer.Option(None, "--log", help="Read this audit log file (or folder of chains, one "
                                          "per replica) instead of asking the gateway"),
          json_output: bool = JsonOpt):
    """Query the decision log (the gateway's, or a local file with --log)."""
    if ctx.invoked_subcommand:
        return
    o = merged(ctx, json_output=json_output)
    if log:
        import collections

        from spin_gateway.audit.query import AuditFilter, query

        flt = AuditFilter(user=user, project=project, decision=decision, rule=rule, since=since, until=until,
                          type=record_type)
        items = list(collections.deque(query(log, flt), maxlen=limit))
    else:
        params = {"user": user, "project": project, "decision": decision, "rule": rule, "limit": limit, "type": record_type,
                  "since": since.isoformat() if since else None, "until": until.isoformat() if until else None}
        items = o.client().request("GET", "/v1/audit", params={k: v for k, v in params.items() if v})["items"]
    if o.as_json:
        return o.render.json(items)
    o.render.audit_records(items)


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
