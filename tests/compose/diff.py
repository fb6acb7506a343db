"""Field-by-field differences between our canonical model and Docker Compose's."""

from __future__ import annotations

from typing import Any


def differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out = []
        for key in sorted(set(ours) | set(theirs), key=str):
            here = f"{path}.{key}" if path else str(key)
            if key not in ours:
                out.append(f"{here}: missing (docker compose: {theirs[key]!r})")
            elif key not in theirs:
                out.append(f"{here}: extra {ours[key]!r} (docker compose has none)")
            else:
                out.extend(differences(ours[key], theirs[key], here))
        return out
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            return [f"{path}: {len(ours)} items, docker compose has {len(theirs)}: {ours!r} vs {theirs!r}"]
        out = []
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            out.extend(differences(a, b, f"{path}[{i}]"))
        return out
    return [] if ours == theirs else [f"{path}: {ours!r}, docker compose: {theirs!r}"]
