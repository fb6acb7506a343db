"""`spin gateway webhook-config`: the two configurations, fail closed, and examples/kubernetes/webhook.yaml as printed."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import yaml
from typer.testing import CliRunner

from spin_gateway.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def ca(tmp: Path) -> Path:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp / "ca.key"),
                    "-out", str(tmp / "ca.crt"), "-days", "1", "-subj", "/CN=t"], check=True, capture_output=True)
    return tmp / "ca.crt"


def test_both_configurations_fail_closed_and_leave_the_system_and_the_gateway_running(tmp_path):
    bundle = ca(tmp_path)
    out = CliRunner().invoke(app, ["gateway", "webhook-config", "--url", "https://gw.example.org:8443/",
                                   "--ca-bundle", str(bundle), "--gateway-namespace", "spin-gw",
                                   "--exclude-namespace", "monitoring", "--match-label", "spin.io/admission=on"])
    assert out.exit_code == 0, out.output
    mutating, validating = list(yaml.safe_load_all(out.stdout))
    assert mutating["kind"] == "MutatingWebhookConfiguration"
    assert validating["kind"] == "ValidatingWebhookConfiguration"
    for doc, phase in ((mutating, "mutate"), (validating, "validate")):
        (hook,) = doc["webhooks"]
        assert hook["clientConfig"]["url"] == f"https://gw.example.org:8443/v1/admission/{phase}"
        assert base64.b64decode(hook["clientConfig"]["caBundle"]) == bundle.read_bytes()
        assert hook["failurePolicy"] == "Fail" and hook["sideEffects"] == "None"
        assert hook["admissionReviewVersions"] == ["v1"]
        assert 1 <= hook["timeoutSeconds"] < 30  # below the API server's own wait for webhooks
        left_out = hook["namespaceSelector"]["matchExpressions"][0]
        assert left_out["operator"] == "NotIn"
        assert set(left_out["values"]) == {"kube-system", "kube-public", "kube-node-lease", "spin-gw", "monitoring"}
        assert hook["namespaceSelector"]["matchLabels"] == {"spin.io/admission": "on"}
        assert {tuple(r["operations"]) for r in hook["rules"]} == {("CREATE", "UPDATE", "DELETE")}
    assert mutating["webhooks"][0]["reinvocationPolicy"] == "IfNeeded"


def test_what_the_api_server_cannot_use_is_refused(tmp_path):
    bundle = ca(tmp_path)
    for args, said in ((["--url", "http://gw:8470"], "https://"), (["--url", "https://gw", "--timeout", "31"], "1..30"),
                       (["--url", "https://gw", "--match-label", "novalue"], "KEY=VALUE")):
        out = CliRunner().invoke(app, ["gateway", "webhook-config", "--ca-bundle", str(bundle), *args])
        assert out.exit_code == 2 and said in out.output, out.output
    (tmp_path / "empty.pem").write_text("")
    out = CliRunner().invoke(app, ["gateway", "webhook-config", "--url", "https://gw", "--ca-bundle",
                                   str(tmp_path / "empty.pem")])
    assert out.exit_code == 2 and "no PEM certificate" in out.output


def test_the_shipped_example_is_what_the_command_prints(tmp_path):
    out = CliRunner().invoke(app, ["gateway", "webhook-config", "--url", "https://spin-gateway.spin-system.svc:443",
                                   "--ca-bundle", str(ca(tmp_path))])
    printed = list(yaml.safe_load_all(out.stdout))
    shipped = [d for d in yaml.safe_load_all((ROOT / "examples/kubernetes/webhook.yaml").read_text()) if d]
    for doc in printed:
        doc["webhooks"][0]["clientConfig"]["caBundle"] = ""
    assert shipped == printed
