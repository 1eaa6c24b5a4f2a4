"""Model strings (graph, op and tensor names) as the generated C and the device protocol may show them.

A name comes from a model file, so it can hold anything: `*/`, newlines, NUL, backslashes, trigraphs, brackets
that break the protocol's `[...]` fields, or 10 kB of text. Every such string reaches C only through
`label`: printable ASCII where each risky character is `<hh>` (code points below 256) or `<U+hhhh>`, cut to
`LABEL_MAX` characters with a hash of the whole name so long names stay distinct. A label holds no backslash,
quote, `?`, `*` or bracket, so it is the same text inside a C comment, inside a C string literal and on the
device protocol. C identifiers are never derived from names (layers are `munify_layer_<index>`).
"""

from __future__ import annotations

import hashlib

LABEL_MAX = 64
HASH_CHARS = 8
# Printable ASCII that means something to C comments and strings (`*`, trigraph `??/`, `\`, `"`), to the
# protocol (`[`, `]`, `%`) or to the escape itself (`<`) is escaped too.
_ESCAPED = frozenset("\\\"?*[]%<")


def _escape(char: str) -> str:
    code = ord(char)
    if 32 <= code < 127 and char not in _ESCAPED:
        return char
    return f"<{code:02x}>" if code < 0x100 else f"<U+{code:04X}>"


def label(text: str) -> str:
    """`text` as printable ASCII of at most LABEL_MAX characters, with no C comment or protocol syntax."""
    text = str(text)
    escaped = "".join(_escape(char) for char in text)
    if len(escaped) <= LABEL_MAX:
        return escaped
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]
    suffix = f"...~{digest}"
    head, budget = [], LABEL_MAX - len(suffix)
    for char in text:
        piece = _escape(char)
        if len(piece) > budget:
            break
        head.append(piece)
        budget -= len(piece)
    return "".join(head) + suffix


def c_comment(text: str) -> str:
    """Text for inside a /* ... */ comment."""
    return label(text)


def c_string(text: str) -> str:
    """A C string literal holding `label(text)`."""
    return f'"{label(text)}"'
