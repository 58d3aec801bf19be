"""Characters that hide text or change how it reads, defined once for the loader and every renderer.

Unicode's "Other" categories (controls, format characters such as bidi controls, zero-width marks,
the soft hyphen and the tag characters that can carry invisible text; private-use, surrogate and
unassigned code points) and the line and paragraph separators: what `str.isprintable()` refuses,
less the visible spaces (Zs). Validation warns about them in a file's values; the text and Markdown
plans and the Mermaid picture show each as a visible \\uXXXX.
"""

from __future__ import annotations

import unicodedata


def is_hidden(char: str) -> bool:
    return not char.isprintable() and unicodedata.category(char) != "Zs"


def hidden_in(text: str) -> list[str]:
    """The hidden characters of `text`, in order."""
    return [] if text.isprintable() else [c for c in text if is_hidden(c)]


def escaped(text: str) -> str:
    """`text` with each hidden character as a visible escape: \\u202e, or \\U000e0041 beyond 16 bits."""
    if text.isprintable():
        return text
    return "".join(
        (f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}") if is_hidden(c) else c for c in text
    )


def may_hide(raw: bytes) -> bool:
    """Whether a file's bytes may hold a hidden character in a value (False: surely none); cheap enough
    for the parsing workers, so that validation looks only at the files that need it."""
    if b"\\" in raw:  # a YAML escape in double quotes ("\u202e") can produce one
        return True
    return not raw.decode("utf-8", "replace").replace("\n", "").isprintable()
