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
        sys.stderr.write(f"error: {say(exc.message)}\n")
        decisions = (exc.details or {}).get("decisions") if isinstance(exc.details, dict) else None
        if decisions:
            for d in decisions:
                for v in d.get("violations", []):
                    where = f" at {v['path']}" if v.get("path") else ""
                    sys.stderr.write(say(f"  denied  {d['kind']}/{d['name']}  [{v['rule']}] {v['message']}{where}") + "\n")
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
        for r in result.get("results", []):
            note = f"  ({r['message']})" if r["action"] in ("skipped", "enforced") and r.get("message") else ""
            self.line(f"{r['action']:<10} {r['kind']}/{r['name']}{note}")
        services = result.get("services") or []
        if services:
            self.services(services)
        self.line(f"project {result['project']} (facility project {result['facility_project']}): {result['status']}"
                  f"  [policy {result['policy_revision']}]")

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
                      + (f" [{rules}]" if rules else ""))
