"""All CLI output goes through here: human text or, with --json, the API's own JSON.

Human text shows control characters as visible escapes (vocabulary/text.py): audit
records, log lines, project and service names, error messages all carry text
someone else chose, and a terminal must not obey it. JSON escapes them itself.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from spin_gateway.vocabulary.errors import SpinError
from spin_gateway.vocabulary.text import printable


class Renderer:
    def __init__(self, as_json: bool = False):
        self.as_json = as_json

    def json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")

    def json_line(self, data: Any) -> None:
        """One JSON document on one line (a stream such as `logs -f --json`: one per line, as it comes)."""
        sys.stdout.write(json.dumps(data, default=str) + "\n")

    def documents(self, docs: list[Any]) -> None:
        """Kubernetes manifests: a YAML stream (kubectl apply -f -), or with --json one JSON list."""
        if self.as_json:
            return self.json(docs)
        import yaml

        sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=False))

    def line(self, text: str = "") -> None:
        # One call, one line: a CR or LF inside a field must not start a line that looks like a record.
        sys.stdout.write(printable(text, keep_tabs=True) + "\n")

    def error(self, exc: SpinError) -> None:
        if self.as_json:
            sys.stdout.write(json.dumps({"error": {"type": exc.kind, "message": exc.message, "hint": exc.hint,
                                                   **({"data": exc.details} if exc.details else {})}},
                                        indent=2, default=str) + "\n")
            return
        say = printable
        details = exc.details if isinstance(exc.details, dict) else {}
        decisions = details.get("decisions") or []
        denials = [(d, v) for d in decisions if isinstance(d, dict) for v in d.get("violations") or []]
        if denials:
            # Each violation once, on its own line (the gateway's message lists them all again, for API clients).
            objects = len({(d.get("kind"), d.get("name")) for d, _ in denials})
            sys.stderr.write(f"error: refused by policy: {len(denials)} violation{'s' if len(denials) != 1 else ''}"
                             f" in {objects} object{'s' if objects != 1 else ''}\n")
            for d, v in denials:
                where = f" at {v['path']}" if v.get("path") else ""
                sys.stderr.write(say(f"  denied  {d.get('kind')}/{d.get('name')}  [{v.get('rule')}] "
                                     f"{v.get('message')}{where}") + "\n")
        else:
            # What was applied before the failure (results, services): printed in every case.
            if details.get("results") or details.get("services"):
                self.plan_lines(details)
            # One problem per line: a compose error that lists several keys names each on its own line.
            problems = details.get("problems") if isinstance(details.get("problems"), list) else None
            if problems:
                sys.stderr.write(f"error: {say(exc.message.split(chr(10))[0])}\n")
                for p in problems:
                    sys.stderr.write(say(f"  {p.get('message') if isinstance(p, dict) else p}") + "\n")
                    if isinstance(p, dict) and p.get("hint"):
                        sys.stderr.write(say(f"    hint: {p['hint']}") + "\n")
            else:
                for i, text in enumerate(exc.message.splitlines() or [""]):
                    sys.stderr.write(f"{'error: ' if i == 0 else '  '}{say(text)}\n")
        if exc.hint:
            sys.stderr.write(f"hint: {say(exc.hint)}\n")

    def table(self, headers: list[str], rows: Iterable[list[Any]]) -> None:
        # Escaped before the widths are measured, so the columns line up as shown.
        rows = [[printable(c) for c in r] for r in rows]
        widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
        self.line("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
        for r in rows:
            self.line("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip())

    def plan(self, result: dict[str, Any], *, verbose: bool = False) -> None:
        if self.as_json:
            return self.json(result)
        for n in result.get("notices", []):
            self.line(f"notice  {n['path']}: {n['action']}: {n['reason']}")
        for d in result["decisions"]:
            verdict = "allow" if d["allowed"] else "deny "
            extra = f"  ({len(d['patches'])} patch{'es' if len(d['patches']) != 1 else ''})" if d["patches"] else ""
            if verbose or not d["allowed"] or d["patches"]:
                self.line(f"{verdict}  {d['operation']:<6} {d['kind']}/{d['name']}{extra}")
            for v in d["violations"]:
                self.line(f"         [{v['rule']}] {v['message']}" + (f" at {v['path']}" if v.get("path") else ""))
            for w in d["warnings"]:
                self.line(f"         warning: {w}")
            if verbose:
                for p in d["patches"]:
                    self.line(f"         patch {p.get('op')} {p.get('path')} = {json.dumps(p.get('value'))}")
        self.plan_lines(result)
        self.line(f"project {result['project']} (facility project {result['facility_project']}): {result['status']}"
                  f"  [policy {result['policy_revision']}]")

    def plan_lines(self, result: dict[str, Any]) -> None:
        """What the backend did (one line per result) and the services it reports."""
        for r in result.get("results") or []:
            note = f"  ({r['message']})" if r["action"] in ("skipped", "enforced") and r.get("message") else ""
            self.line(f"{r['action']:<10} {r['kind']}/{r['name']}{note}")
        services = result.get("services") or []
        if services:
            self.services(services)

    def services(self, services: list[dict[str, Any]]) -> None:
        # VERIFIED: what the backend read back from what runs, against the decision (empty where it reads nothing)
        verified = any(s.get("verified") for s in services)
        self.table(["SERVICE", "READY", "STATE", "PORTS", "RESTARTS", *(["VERIFIED"] if verified else [])],
                   [[s["service"], f"{s['ready']}/{s['desired']}", s["state"], ",".join(s["ports"]), s["restarts"],
                     *([s.get("verified", "")] if verified else [])]
                    for s in services])

    def audit_records(self, records: Iterable[dict[str, Any]]) -> None:
        """`spin audit`: one line per record, every field escaped on its own (tabs too), whatever the record holds."""
        def field(value: Any) -> str:
            return printable("" if value is None else value)

        def member(value: Any, key: str) -> Any:
            return value.get(key, "") if isinstance(value, dict) else ""

        for r in records:
            if not isinstance(r, dict):
                continue
            obj = r.get("object")
            what = f"{field(member(obj, 'kind'))}/{field(member(obj, 'name'))}"
            verdict = field(r.get("decision") or r.get("backend_result", ""))
            rules = ",".join(field(member(v, "rule")) for v in r.get("violations") or [] if isinstance(v, dict))
            self.line(f"{field(r.get('time', ''))}  {field(r.get('type', '')):<8} {field(member(r.get('user'), 'name')):<10} "
                      f"{field(r.get('project', '')):<16} {field(r.get('operation', '')):<5} {what:<32} {verdict}"
                      + (f" [{rules}]" if rules else "") + (f"  {field(r['request_id'])}" if r.get("request_id") else ""))
