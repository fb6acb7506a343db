"""`spin policy test` on a small site library: every kind of failure says where it stopped and with which values,
and a test that raises is named with OPA's error while the others still run."""

from __future__ import annotations

from typer.testing import CliRunner

from spin_gateway.cli.main import app

RULES = """package spin.rules.site

deny contains v if {
\tsome c in input.request.object.spec.containers
\tnot startswith(c.image, "registry.site.org/")
\tv := {"rule": "site", "message": sprintf("image %s is not the site's", [c.image]), "path": "/spec"}
}

parse(ref) := {"repo": split(ref, ":")[0], "tag": split(ref, ":")[1]}

twice := 1
twice := 2 if input.x
"""

TESTS = """package spin.rules.site_test

import data.spin.rules.site

pod(image) := {"request": {"object": {"spec": {"containers": [{"image": image}]}}}}

test_passes if {
\tcount(site.deny) == 0 with input as pod("registry.site.org/a:1")
}

test_count if {
\tcount(site.deny) == 2 with input as pod("quay.io/a:1")
}

test_field if {
\tsome v in site.deny with input as pod("quay.io/a:1")
\tv.rule == "other"
}

test_builtin if {
\tsome v in site.deny with input as pod("quay.io/a:1")
\tcontains(v.message, "nope")
}

test_object if {
\tsite.parse("a:1") == {"repo": "a", "tag": "2"}
}

test_not if {
\tnot site.deny with input as pod("quay.io/a:1")
}

test_nothing if {
\tsome v in site.deny with input as pod("registry.site.org/a:1")
\tv.rule == "site"
}

test_raises if {
\tsite.twice == 1 with input.x as true
}
"""


def test_each_failure_is_explained_and_a_raising_test_is_named(tmp_path):
    folder = tmp_path / "site"
    (folder / "site").mkdir(parents=True)
    (folder / "site" / "policy.rego").write_text(RULES)
    (folder / "site" / "policy_test.rego").write_text(TESTS)
    result = CliRunner().invoke(app, ["policy", "test", str(folder), "--no-samples"])
    assert result.exit_code == 1
    out = result.output

    def block(name: str) -> str:
        start = out.index(f"spin.rules.site_test.{name} ")
        return out[start:out.find("\nPASS", start) if "\nPASS" in out[start:] else len(out)].split("\nFAIL")[0]

    assert "PASS: spin.rules.site_test.test_passes (site/policy_test.rego:7)" in out
    assert "site/policy_test.rego:12: count(site.deny) == 2" in block("test_count") and "expected 2, got 1" in block("test_count")
    assert 'expected "other", got "site"' in block("test_field")
    assert "false: contains(" in block("test_builtin") and "v = {" in block("test_builtin")
    assert '"1" is not "2"' in block("test_object")
    assert "data.spin.rules.site.deny is defined: {{" in block("test_not")
    assert "no value makes it true" in block("test_nothing")
    assert "FAIL: spin.rules.site_test.test_raises (site/policy_test.rego:38): policy evaluation failed:" in out
    assert "complete rules must not produce multiple outputs" in block("test_raises")
    assert "1 passed, 7 failed" in out
