"""All CLI output goes through here: human text or, with --json, the API's own JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from spin_gateway.vocabulary.errors import SpinError


class Renderer:
    def __init__(self, as_json: bool = False):
        self.as_json = as_json

    def json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")

    def line(self, text: str = "") -> None:
        sys.stdout.write(text + "\n")

    def error(self, exc: SpinError) -> None:
        if self.as_json:
            sys.stdout.write(json.dumps({"error": {"type": exc.kind, "message": exc.message, "hint": exc.hint,
                                                   **({"data": exc.details} if exc.details else {})}},
                                        indent=2, default=str) + "\n")
            return
        sys.stderr.write(f"error: {exc.message}\n")
        decisions = (exc.details or {}).get("decisions") if isinstance(exc.details, dict) else None
        if decisions:
            for d in decisions:
                for v in d.get("violations", []):
                    where = f" at {v['path']}" if v.get("path") else ""
                    sys.stderr.write(f"  denied  {d['kind']}/{d['name']}  [{v['rule']}] {v['message']}{where}\n")
        if exc.hint:
            sys.stderr.write(f"hint: {exc.hint}\n")

    def table(self, headers: list[str], rows: Iterable[list[Any]]) -> None:
        rows = [[str(c) for c in r] for r in rows]
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
