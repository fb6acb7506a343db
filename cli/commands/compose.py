"""The compose file read locally, without a gateway: config and convert."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

import typer
import yaml

from spin_gateway.cli.errors import reports_errors
from spin_gateway.cli.file_sources import inline_file_sources
from spin_gateway.cli.options import (
    AllowUnsupportedOpt,
    EnvFileOpt,
    FileOpt,
    JsonOpt,
    ProfileOpt,
    ProjectOpt,
    merged,
)
from spin_gateway.vocabulary.errors import UsageError


@reports_errors
def convert(ctx: typer.Context, file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
            env_file: list[Path] | None = EnvFileOpt, profile: list[str] | None = ProfileOpt,
            out: Path | None = typer.Option(None, "-o", "--out", help="Write one YAML file per object here"),
            allow_unsupported: bool = AllowUnsupportedOpt,
            json_output: bool = JsonOpt):
    """The Kubernetes objects of the compose file, before policy (computed locally)."""
    from spin_gateway.compose_loader import validate_model
    from spin_gateway.translate import convert as to_objects

    o = merged(ctx, file, project_name, env_file, profile, json_output)
    project = o.load()
    conversion = to_objects(validate_model(inline_file_sources(project.model)), project=project.name,
                            owner=getpass.getuser(), facility_project=os.environ.get("SPIN_FACILITY_PROJECT", ""),
                            allow_unsupported=allow_unsupported)
    objects = conversion.objects
    for n in conversion.notices:
        sys.stderr.write(f"notice: {n.path}: {n.action}: {n.reason}\n")
    if out:
        out.mkdir(parents=True, exist_ok=True)
        for i, obj in enumerate(objects):
            (out / f"{i:02d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml").write_text(
                yaml.safe_dump(obj, sort_keys=False))
        o.render.line(f"wrote {len(objects)} objects to {out}")
    elif o.as_json:
        o.render.json({"objects": objects, "notices": [n.model_dump() for n in conversion.notices]})
    else:
        sys.stdout.write(yaml.safe_dump_all(objects, sort_keys=False))


@reports_errors
def config(ctx: typer.Context, file: list[Path] | None = FileOpt, project_name: str | None = ProjectOpt,
           env_file: list[Path] | None = EnvFileOpt, profile: list[str] | None = ProfileOpt,
           fmt: str = typer.Option("yaml", "--format", help="yaml or json"),
           json_output: bool = JsonOpt):
    """The canonical compose model, as `docker compose config` prints it."""
    o = merged(ctx, file, project_name, env_file, profile, json_output)
    project = o.load()
    if fmt == "json" or o.as_json:
        o.render.json(project.model)
    elif fmt == "yaml":
        sys.stdout.write(yaml.safe_dump(project.model, sort_keys=False))
    else:
        raise UsageError(f"unknown format {fmt!r}: use yaml or json")
