"""YAML read as Docker Compose reads it (go-yaml v3), and safely.

Two jobs:

- Scalars resolve as go-yaml v3 resolves them, not as PyYAML's YAML 1.1 does:
  `yes`/`no`/`on`/`off` stay strings, `0400` and `0o400` are octal, `1_000` is
  1000, `1:20` is a string, an out-of-range integer becomes a float, a date is
  refused (compose refuses it too). Otherwise `DEBUG: yes` would reach the
  container as "true".
- Hostile input is refused before it can hurt: a size limit, a limit on the
  expanded node count (an alias bomb is small on disk and huge when expanded),
  a depth limit, duplicate keys (go-yaml refuses them, PyYAML silently keeps the
  last) and non-string keys.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml
import yaml.cyaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from spin_gateway.vocabulary.errors import ComposeError

MAX_BYTES = 4 << 20
MAX_NODES = 200_000  # expanded: real compose files have a few thousand
MAX_DEPTH = 64

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_STR_TAG = "tag:yaml.org,2002:str"
_NULL = {"", "~", "null", "Null", "NULL"}
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_SPECIAL_FLOAT = {".inf": math.inf, ".Inf": math.inf, ".INF": math.inf, "+.inf": math.inf, "+.Inf": math.inf,
                  "+.INF": math.inf, "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf,
                  ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan}
_YAML_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}"
                        r"(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?$")
_GO_INT = re.compile(r"^[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$")


class Timestamp(str):
    """A plain scalar go-yaml reads as a date; compose refuses it wherever a value is expected."""


def _go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64), then ParseUint: prefixes 0x/0o/0b, a leading 0 is octal."""
    if not _GO_INT.match(text):
        return None
    sign = -1 if text[0] == "-" else 1
    digits = text.lstrip("+-")
    if len(digits) > 1 and digits[0] == "0" and digits[1] in "xXoObB":
        value = int(digits, 0)
    elif len(digits) > 1 and digits[0] == "0":
        value = int(digits, 8)
    else:
        value = int(digits)
    value *= sign
    if -(1 << 63) <= value < (1 << 64):
        return value
    return None  # out of range: go-yaml falls back to a float


def resolve_plain(text: str) -> Any:
    """The value go-yaml v3 gives an unquoted, untagged scalar."""
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    if text in _SPECIAL_FLOAT:
        return _SPECIAL_FLOAT[text]
    if text == "<<":
        return text
    if text[0] in "+-.0123456789":
        if _TIMESTAMP.match(text):
            return Timestamp(text)
        plain = text.replace("_", "")
        value = _go_int(plain)
        if value is not None:
            return value
        if _YAML_FLOAT.match(plain):
            return float(plain)
    return text


# libyaml's parser when present: the pure-Python one takes seconds on a few megabytes, and a hostile file
# must be refused quickly. Resolution and construction stay in Python either way, so the rules below hold.
_Parser = yaml.cyaml.CParser if yaml.__with_libyaml__ else None  # type: ignore[attr-defined]


# The base classes are chosen at import (libyaml or not), which a static checker cannot follow.
class _Loader(*((_Parser,) if _Parser else (yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,  # type: ignore[misc]
                                            yaml.composer.Composer)),
              yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """A safe loader with go-yaml's scalar rules, duplicate keys refused, and keys kept as written."""

    def __init__(self, stream: str):
        if _Parser:
            _Parser.__init__(self, stream)
        else:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self._nodes = 0

    def resolve(self, kind, value, implicit):
        # Called once per node the parser builds: a huge file is refused before it is all in memory.
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise ComposeError(f"more than {MAX_NODES} YAML nodes", hint="A compose file has a few thousand; check the file.")
        return super().resolve(kind, value, implicit)


# Only the merge key and values stay with PyYAML's implicit resolvers; every other plain scalar goes to resolve_plain.
_Loader.yaml_implicit_resolvers = {}
_Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])
_Loader.add_implicit_resolver("tag:spin,plain", re.compile(r"^.*$", re.S), None)


def _construct_plain(loader: _Loader, node: ScalarNode) -> Any:
    return resolve_plain(node.value)


def _construct_int(loader: _Loader, node: ScalarNode) -> Any:
    value = resolve_plain(node.value.strip())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise ComposeError(f"line {node.start_mark.line + 1}: {node.value!r} is not an integer",
                       hint="Remove the !!int tag or write a number.")


_Loader.add_constructor("tag:spin,plain", _construct_plain)
_Loader.add_constructor(_INT_TAG, _construct_int)
_Loader.add_constructor(_FLOAT_TAG, _construct_int)


def _construct_mapping(loader: _Loader, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)  # resolves `<<` merge keys; explicit keys then win over merged ones
    explicit_from = len(node.value) - getattr(node, "_spin_explicit", len(node.value))
    seen: dict[tuple[type, Any], int] = {}  # by type too: 1 and true are different keys
    out: dict[Any, Any] = {}
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise ComposeError(f"line {key_node.start_mark.line + 1}: a mapping key cannot be a list or a mapping") from None
        typed = (type(key), key)
        if index >= explicit_from and typed in seen and seen[typed] >= explicit_from:
            raise ComposeError(f"line {key_node.start_mark.line + 1}: mapping key {key!r} is already defined at "
                               f"line {node.value[seen[typed]][0].start_mark.line + 1}",
                               hint="Remove one of the two; YAML keeps only one value per key.")
        seen[typed] = index
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


def _flatten_mapping(self: _Loader, node: MappingNode) -> None:
    """Resolve `<<` merge keys as YAML (and go-yaml) do: among merged maps the first wins, explicit keys win over all.

    PyYAML 6.0.4 lets a later merged map win, so `<<: [*a, *b]` would differ from Docker Compose.
    The node remembers how many pairs were written in it, so duplicates are judged among those only.
    """
    if hasattr(node, "_spin_explicit"):
        return  # an anchored mapping is flattened once, however many aliases use it
    merged: list[tuple[Node, Node]] = []
    explicit: list[tuple[Node, Node]] = []
    for key_node, value_node in node.value:
        if key_node.tag != "tag:yaml.org,2002:merge":
            explicit.append((key_node, value_node))
            continue
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, MappingNode):
                raise ComposeError(f"line {source.start_mark.line + 1}: `<<` merges mappings only, found {source.id}",
                                   hint="Point `<<` at an anchored mapping, or a list of them.")
            _flatten_mapping(self, source)
            merged.extend(source.value)

    def ident(key_node: Node) -> Any:
        return (key_node.tag, key_node.value) if isinstance(key_node, ScalarNode) else id(key_node)

    seen = {ident(k) for k, _ in explicit}  # so the node's pairs are its effective ones when merged elsewhere
    unique = []
    for key_node, value_node in merged:
        if ident(key_node) not in seen:
            seen.add(ident(key_node))
            unique.append((key_node, value_node))
    node.value = unique + explicit
    node._spin_explicit = len(explicit)  # type: ignore[attr-defined]


_Loader.flatten_mapping = _flatten_mapping  # type: ignore[method-assign, assignment]
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def _check_graph(root: Node, source: str, budget: int = MAX_NODES) -> int:
    """Expanded size and depth of the node graph, each node counted once per place it appears (memoised).

    Returns the expanded size; more than `budget` nodes is refused.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    shared = [False]  # whether any node is reached twice, i.e. through an alias

    def visit(node: Node, level: int) -> tuple[int, int]:
        if level > MAX_DEPTH:
            raise ComposeError(f"{source}: nested deeper than {MAX_DEPTH} levels", hint="Flatten the file.")
        key = id(node)
        if key in size:
            shared[0] = True
            if level + depth[key] > MAX_DEPTH:
                raise ComposeError(f"{source}: nested deeper than {MAX_DEPTH} levels", hint="Flatten the file.")
            return size[key], depth[key]
        total, deepest = 1, 0
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        size[key], depth[key] = 1, 0  # a cycle (recursive alias) counts once and stops here
        for child in children:
            s, d = visit(child, level + 1)
            total += s
            deepest = max(deepest, d + 1)
            if total > budget:
                if shared[0]:
                    raise ComposeError(f"{source}: expands to more than {MAX_NODES} YAML nodes: refusing an alias bomb",
                                       hint="Use fewer nested anchors and aliases.")
                raise ComposeError(f"{source}: more than {MAX_NODES} YAML nodes",
                                   hint="A compose file has a few thousand; check the file.")
        size[key], depth[key] = total, deepest
        return total, deepest

    return visit(root, 0)[0]


def _check_keys(value: Any, where: str, source: str) -> None:
    """Every key a string and no date anywhere: what compose refuses, refused with the path."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ComposeError(f"{source}: {where or 'top level'}: the key {_show(k)} is not a string",
                                   hint=f"Quote it: \"{_show(k)}\".")
            _check_keys(v, f"{where}.{k}" if where else k, source)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_keys(v, f"{where}[{i}]", source)
    elif isinstance(value, Timestamp):
        raise ComposeError(f"{source}: {where}: {str(value)!r} reads as a date", hint=f"Quote it: \"{value}\".")


def _show(key: Any) -> str:
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def load_yaml_text(text: str, source: str) -> list[Any]:
    """Every document of the text (Docker Compose merges several `---` documents as several files)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ComposeError(f"{source}: larger than {MAX_BYTES >> 20} MiB", hint="Compose files are small; check the path.")
    loader = _Loader(text)
    documents = []
    budget = MAX_NODES  # shared by all documents, so many small bombs are no better than one
    try:
        while loader.check_node():
            node = loader.get_node()
            budget -= _check_graph(node, source, budget)
            documents.append(loader.construct_document(node))
    except ComposeError as exc:
        message = exc.message if exc.message.startswith(source) else f"{source}: {exc.message}"
        raise ComposeError(message, exc.hint) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ComposeError(f"{source}{where}: not valid YAML: {problem}",
                           hint="Check the indentation and quoting there.") from None
    except RecursionError:
        raise ComposeError(f"{source}: nested too deeply", hint="Flatten the file.") from None
    finally:
        loader.dispose()
    for data in documents:
        _check_keys(data, "", source)
    return documents


def load_yaml_file(path: Path) -> list[Any]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ComposeError(f"{path}: cannot read: {exc.strerror}", hint="Check the path given with -f.") from None
    if size > MAX_BYTES:
        raise ComposeError(f"{path}: larger than {MAX_BYTES >> 20} MiB", hint="Compose files are small; check the path.")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ComposeError(f"{path}: not UTF-8 text (byte {exc.start})", hint="Save the file as UTF-8.") from None
    return load_yaml_text(text, str(path))
