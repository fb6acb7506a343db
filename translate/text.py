"""Strings of the canonical model as the container sees them, and as Kubernetes must be told them.

The canonical model writes a literal dollar as `$$` (`docker compose config`
does); Docker runs the container with one `$`. Kubernetes in turn expands
command, args and env values: `$(NAME)` becomes the value of the container's
variable NAME when it has one, and `$$` becomes `$`; everything else is kept
as written. So a value goes model -> literal (unescape compose) -> Kubernetes,
escaping only where Kubernetes would change it. The escaping is minimal on
purpose: the object stays readable, and a runtime that does not expand (podman
kube play does not) runs nearly every command as Docker would.
"""

from __future__ import annotations

from collections.abc import Iterable


def literal(value: str) -> str:
    """What Docker runs for a model string: `$$` is one dollar."""
    return value.replace("$$", "$")


def for_expansion(value: str, defined: Iterable[str] = ()) -> str:
    """A model string for a Kubernetes field that expands $(NAME): command, args, env values.

    `defined`: the names of the container's variables (only their references are expanded).
    Each dollar is doubled where Kubernetes would read it as an operator: before another
    dollar, or opening a reference to a defined name.
    """
    names = set(defined)
    text = literal(value)
    out = []
    for i, ch in enumerate(text):
        if ch == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                ch = "$$"
            elif nxt == "(":
                end = text.find(")", i + 2)
                if end != -1 and text[i + 2:end] in names:
                    ch = "$$"
        out.append(ch)
    return "".join(out)
