"""Whether a candidate revision of the policy folder may replace the live one (issue #20).

Compiling is not enough: a rule file cut short just before its `deny` rule
compiles, and then allows everything that rule refused. A candidate must also

- declare only the packages a library has: spin.admission, spin.rules.<rule>,
  spin.lib.<name> (tests aside, which never serve);
- keep the library's structure: every rule package defines `meta` (an object
  with an id) and its decision rules (`deny`, or the outputs its meta lists
  under `outputs`), and still defines every rule package and every output
  (deny, patch, warn, meta) the live revision defines, and every top-level key
  of the live site data (removing a rule or a key takes a gateway restart);
- pass the library's own Rego tests (the test_ rules `spin policy test` runs),
  and have tests at all when the live revision has them.

All of it is asked of OPA in one evaluation of a probe module compiled with the
candidate (one query per test took a second each on a loaded machine).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from spin_gateway.policy.bundle import PolicyBundle
from spin_gateway.policy.describe import rule_packages
from spin_gateway.policy.testing import discover
from spin_gateway.vocabulary.errors import PolicyError, PolicyLoadError

OUTPUTS = ("meta", "deny", "patch", "warn")
_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)", re.M)
_ALLOWED_MODULE_PACKAGE = re.compile(r"^spin\.(admission|rules\.\w+|lib\.\w+)$")
HINT = "Fix the policy folder; the live revision keeps deciding until a candidate passes."


@dataclass
class Structure:
    """What a revision defines, as its compiled policy answers."""

    revision: str
    outputs: dict[str, set[str]] = field(default_factory=dict)  # rule package -> outputs it defines
    metas: dict[str, Any] = field(default_factory=dict)
    tests: dict[str, bool] = field(default_factory=dict)  # package.test_name -> passed
    site_keys: set[str] = field(default_factory=set)

    @property
    def failed_tests(self) -> list[str]:
        return sorted(name for name, ok in self.tests.items() if not ok)


def _packages_allowed(bundle: PolicyBundle) -> None:
    for file, source in sorted(bundle.modules.items()):
        m = _PACKAGE.search(source)
        if not m:
            raise PolicyLoadError(f"{file}: no package declaration", hint=HINT)
        if not _ALLOWED_MODULE_PACKAGE.match(m.group(1)):
            raise PolicyLoadError(f"{file}: package {m.group(1)} is outside the library's packages "
                                  "(spin.admission, spin.rules.<rule>, spin.lib.<name>)", hint=HINT)
        if m.group(1) == "spin.admission" and file != "admission.rego":
            raise PolicyLoadError(f"{file}: only admission.rego declares package spin.admission", hint=HINT)


def _probe(bundle: PolicyBundle, packages: list[str], tests: list[tuple[str, str, str]]) -> tuple[str, str]:
    """A module that gathers, in one document, which outputs each rule package defines and each test's result."""
    name = f"spin_candidate_probe_{secrets.token_hex(6)}"
    lines = [f"package {name}", "", "outputs := {"]
    for pkg in packages:
        for out in OUTPUTS:
            lines.append(f'\t{json.dumps(f"{pkg}.{out}")}: count([1 | data.spin.rules.{pkg}.{out}]) > 0,')
    lines += ["}", "", "metas := {"]
    lines += [f'\t{json.dumps(pkg)}: [m | m := data.spin.rules.{pkg}.meta],' for pkg in packages]
    lines += ["}", "", "tests := {"]
    lines += [f'\t{json.dumps(f"{p}.{t}")}: count([v | v := data.{p}.{t}; v == true]) > 0,' for _f, p, t in tests]
    lines += ["}", ""]
    return name, "\n".join(lines)


def structure(bundle: PolicyBundle) -> Structure:
    """Ask OPA what the bundle defines and whether its tests pass (raises PolicyLoadError if it cannot)."""
    from spin_gateway.policy.embedded import EmbeddedEngine

    packages = sorted(rule_packages(bundle.modules))
    tests = discover(bundle)
    name, source = _probe(bundle, packages, tests)
    probed = PolicyBundle(bundle.root, {**bundle.modules, f"{name}.rego": source}, bundle.tests, bundle.site,
                          bundle.revision)
    engine = EmbeddedEngine(probed, with_tests=True, pool_size=1)
    try:
        answer = engine.document(name)
    except PolicyError as exc:
        raise PolicyLoadError(f"the candidate's rules or tests cannot be evaluated: {exc.message}", hint=HINT) from None
    finally:
        engine.close()
    found = Structure(bundle.revision, site_keys=set(bundle.site))
    for pkg in packages:
        found.outputs[pkg] = {out for out in OUTPUTS if answer["outputs"].get(f"{pkg}.{out}")}
        metas = answer["metas"].get(pkg) or []
        found.metas[pkg] = metas[0] if metas else None
    found.tests = {key: bool(ok) for key, ok in answer["tests"].items()}
    return found


def check(candidate: PolicyBundle, live: Structure | None) -> Structure:
    """The candidate's structure if it may go live; else PolicyLoadError naming the first reason."""
    _packages_allowed(candidate)
    found = structure(candidate)
    where = rule_packages(candidate.modules)
    for pkg, outs in sorted(found.outputs.items()):
        meta = found.metas.get(pkg)
        if not isinstance(meta, dict) or not isinstance(meta.get("id"), str) or not meta["id"]:
            raise PolicyLoadError(f"{where[pkg]}: rule package spin.rules.{pkg} defines no meta with an id "
                                  "(a file cut short?)", hint=HINT)
        declared = meta.get("outputs", ["deny"])
        missing = [o for o in (declared if isinstance(declared, list) else ["deny"]) if o not in outs]
        if missing:
            raise PolicyLoadError(f"{where[pkg]}: rule package spin.rules.{pkg} defines no {', '.join(missing)} "
                                  "(a file cut short?)", hint=HINT)
    if live is not None:
        for pkg, outs in sorted(live.outputs.items()):
            if pkg not in found.outputs:
                continue  # a rule retired whole (its tests with it); the reload record names it
            lost = sorted(outs - found.outputs[pkg])
            if lost:
                raise PolicyLoadError(f"{where[pkg]}: rule package spin.rules.{pkg} no longer defines {', '.join(lost)}, "
                                      f"which the live revision {live.revision} defines (a file cut short?)", hint=HINT)
        lost_keys = sorted(live.site_keys - found.site_keys)
        if lost_keys:
            raise PolicyLoadError(f"the candidate's site data lacks {', '.join(lost_keys)}, which the live revision "
                                  f"{live.revision} has (a file cut short?)",
                                  hint="Removing a site setting takes a gateway restart.")
        if live.tests and not found.tests:
            raise PolicyLoadError(f"the candidate has no Rego tests; the live revision {live.revision} has "
                                  f"{len(live.tests)}", hint=HINT)
    failed = found.failed_tests
    if failed:
        shown = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
        raise PolicyLoadError(f"the candidate fails {len(failed)} of its {len(found.tests)} Rego tests: {shown}",
                              hint="Run `spin policy test` on the folder; " + HINT)
    return found
