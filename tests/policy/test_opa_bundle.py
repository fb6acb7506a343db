"""`spin policy bundle`: what an OPA server loads must be the library and site data the gateway decides with."""

from __future__ import annotations

import json
import tarfile

import yaml
from typer.testing import CliRunner

from spin_gateway.cli.main import app
from spin_gateway.policy.bundle import load_bundle


def test_the_bundle_holds_every_module_the_site_data_at_spin_config_and_the_revision(repo_root, tmp_path):
    out = tmp_path / "bundle.tar.gz"
    result = CliRunner().invoke(app, ["policy", "bundle", "-o", str(out), "--policy-dir", str(repo_root / "rego"), "--json"])
    assert result.exit_code == 0, result.output
    bundle = load_bundle(repo_root / "rego")
    with tarfile.open(out) as tar:
        files = {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()}
    assert {k for k in files if k.endswith(".rego")} == set(bundle.modules)
    assert all(files[k] == v for k, v in bundle.modules.items())
    assert not any(k.endswith("_test.rego") for k in files)
    assert json.loads(files["spin/config/data.json"]) == yaml.safe_load((repo_root / "rego/site.yaml").read_text())
    manifest = json.loads(files[".manifest"])
    assert manifest == {"revision": bundle.revision, "roots": ["spin"]}
    assert json.loads(result.stdout)["revision"] == bundle.revision


def test_a_folder_bundle_with_tests_and_other_site_data(repo_root, tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("registries: [registry.example.org]\n")
    out = tmp_path / "bundle"
    result = CliRunner().invoke(app, ["policy", "bundle", "-o", str(out), "--policy-dir", str(repo_root / "rego"),
                                      "--data", str(site), "--with-tests"])
    assert result.exit_code == 0, result.output
    assert (out / "lib/paths_test.rego").exists()
    assert json.loads((out / "spin/config/data.json").read_text()) == {"registries": ["registry.example.org"]}
