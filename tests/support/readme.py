"""The shell commands a Markdown file shows, for tests that run every README command as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

__all__ = ["bash_commands"]

_BLOCK_RE = re.compile(r"```bash\n(.*?)```", re.S)
_ASSIGNMENT_RE = re.compile(r"[A-Z_][A-Z0-9_]*=\S*")


def bash_commands(markdown: Path) -> list[tuple[dict[str, str], list[str]]]:
    """(leading ``NAME=value`` assignments, words) of every command line in the file's ```` ```bash ```` blocks.

    Continuation lines (a trailing backslash) are joined; comments and blank lines are dropped.
    """
    out = []
    for block in _BLOCK_RE.findall(markdown.read_text(encoding="utf-8")):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            words = shlex.split(line, comments=True)
            env = {}
            while words and _ASSIGNMENT_RE.fullmatch(words[0]):
                key, value = words.pop(0).split("=", 1)
                env[key] = value
            if words:
                out.append((env, words))
    return out
