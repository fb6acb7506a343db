"""Text from outside (user names, audit fields, log lines) made safe for a terminal.

A terminal obeys what it is sent: ESC starts a control sequence (a changed
title, a moved cursor, a cleared line), CR and LF start a line that looks like
a real record, bidi overrides reorder what is shown. Human output shows every
such character as a visible escape instead; identifiers refuse them outright.
"""

from __future__ import annotations

import re

# C0 and DEL, C1 (U+0080-U+009F, NEL among them), the bidi marks, embeddings, overrides and isolates,
# and the Unicode line and paragraph separators.
_BEYOND_C0 = "\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
_UNSAFE = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")
_UNSAFE_BUT_TAB = re.compile(f"[\x00-\x08\x0a-\x1f{_BEYOND_C0}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object, *, keep_tabs: bool = False) -> str:
    """str(value) with every control, C1 and bidi character shown as a visible escape (\\x1b, \\r, \\u202e)."""
    return (_UNSAFE_BUT_TAB if keep_tabs else _UNSAFE).sub(_escape, str(value))


def control_characters(value: str) -> list[str]:
    """The unsafe characters in value, as escapes (empty when there are none): for error messages."""
    return sorted({_escape(m) for m in _UNSAFE.finditer(value)})
