"""Generated parts of the docs: tables kept in the repo between markers, rebuilt from their declaration.

    python -m reconciler.docgen          # rewrite the stale blocks
    python -m reconciler.docgen --check  # exit 1 and name them when one is stale (CI, tests)

A block is `<!-- generated:NAME -->` … `<!-- /generated:NAME -->`; the text between is replaced.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _daemon_settings() -> str:
    from reconciler.daemon.config import docs_table

    return docs_table()


def _shard_settings() -> str:
    from reconciler.daemon.config import SHARD_SETTINGS, docs_table

    return docs_table(SHARD_SETTINGS)


def _notify_settings() -> str:
    from reconciler.notify.config import docs_table

    return docs_table()


#: (doc file relative to the repository, block name, generator)
BLOCKS: tuple[tuple[str, str, Callable[[], str]], ...] = (
    ("docs/daemon.md", "daemon-settings", _daemon_settings),
    ("docs/daemon.md", "shard-settings", _shard_settings),
    ("docs/notifications.md", "notify-settings", _notify_settings),
)


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- generated:{re.escape(name)} -->\n)(.*?)(<!-- /generated:{re.escape(name)} -->)", re.S)


def render(text: str, name: str, body: str) -> str:
    """`text` with the block `name` holding `body`; KeyError when the markers are missing."""
    pattern = _pattern(name)
    if not pattern.search(text):
        raise KeyError(f"no <!-- generated:{name} --> block")
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(3), text, count=1)


def stale(root: Path = ROOT) -> list[str]:
    """`file: block` of every block whose text differs from its declaration."""
    out = []
    for file, name, generate in BLOCKS:
        text = (root / file).read_text(encoding="utf-8")
        if render(text, name, generate()) != text:
            out.append(f"{file}: {name}")
    return out


def write(root: Path = ROOT) -> list[str]:
    changed = stale(root)
    for file, name, generate in BLOCKS:
        path = root / file
        path.write_text(render(path.read_text(encoding="utf-8"), name, generate()), encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        blocks = stale()
        for block in blocks:
            print(f"stale generated block: {block} (run python -m reconciler.docgen)", file=sys.stderr)
        return 1 if blocks else 0
    for block in write():
        print(f"rewrote {block}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
