"""The chat command language: `/reconciler ACTION …` parsed into a ChatCommand. Pure.

Grammar (one line, words separated by spaces):
  status [ENV] [SERVICE]            history [ENV] [SERVICE]           help
  sync ENV [SERVICE]                approve ENV [COMMIT]              reject ENV [COMMIT]
  rollback ENV SERVICE [REVISION]   continue ENV SERVICE              abort ENV SERVICE
  pause ENV SERVICE                 resume ENV SERVICE
  deploy ENV SERVICE TAG            promote FROM_ENV TO_ENV [SERVICE …]
"""
from __future__ import annotations

import re
from dataclasses import dataclass

READ_ACTIONS = frozenset({"status", "history", "help"})
WRITE_ACTIONS = frozenset({"sync", "approve", "reject", "rollback", "continue", "abort", "pause", "resume",
                           "deploy", "promote"})
ACTIONS = READ_ACTIONS | WRITE_ACTIONS

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
_COMMIT = re.compile(r"^[0-9a-fA-F]{4,40}$")
# Docker tag grammar (distribution/reference), or a digest: the two ways a task definition pins an image.
_TAG = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[0-9a-f]{64})$")

USAGE = {
    "status": "status [ENV] [SERVICE]",
    "sync": "sync ENV [SERVICE]",
    "approve": "approve ENV [COMMIT]",
    "reject": "reject ENV [COMMIT]",
    "rollback": "rollback ENV SERVICE [REVISION]",
    "continue": "continue ENV SERVICE",
    "abort": "abort ENV SERVICE",
    "pause": "pause ENV SERVICE",
    "resume": "resume ENV SERVICE",
    "deploy": "deploy ENV SERVICE TAG",
    "promote": "promote FROM_ENV TO_ENV [SERVICE ...]",
    "history": "history [ENV] [SERVICE]",
    "help": "help",
}


class CommandError(ValueError):
    """The text is not a valid command; the message says why and how to write it."""


@dataclass(frozen=True)
class ChatCommand:
    action: str
    environment: str | None = None
    service: str | None = None
    commit: str | None = None      # approve/reject
    revision: int | None = None    # rollback
    tag: str | None = None         # deploy
    target: str | None = None      # promote: the environment written to
    services: tuple[str, ...] = ()  # promote: restrict to these

    @property
    def writes(self) -> bool:
        return self.action in WRITE_ACTIONS

    @property
    def scope(self) -> str | None:
        """The environment a permission check is about (promote: the one written to)."""
        return self.target if self.action == "promote" else self.environment


def help_text(command: str = "/reconciler") -> str:
    return "Commands:\n" + "\n".join(f"• `{command} {USAGE[a]}`" for a in USAGE)


def _name(word: str, what: str, action: str) -> str:
    if not _NAME.match(word):
        raise CommandError(f"{word!r} is not a valid {what} name (usage: {USAGE[action]})")
    return word


def parse(text: str) -> ChatCommand:
    words = text.split()
    if not words:
        return ChatCommand("help")
    action, rest = words[0].lower(), words[1:]
    if action not in ACTIONS:
        raise CommandError(f"unknown command {words[0]!r}; try `help`")
    usage = USAGE[action]
    arity = {"status": (0, 2), "history": (0, 2), "help": (0, 0), "sync": (1, 2), "approve": (1, 2),
             "reject": (1, 2), "rollback": (2, 3), "continue": (2, 2), "abort": (2, 2), "pause": (2, 2),
             "resume": (2, 2), "deploy": (3, 3), "promote": (2, 1000)}[action]
    if not arity[0] <= len(rest) <= arity[1]:
        raise CommandError(f"usage: {usage}")
    if action == "help":
        return ChatCommand("help")
    if action == "promote":
        source, target = _name(rest[0], "environment", action), _name(rest[1], "environment", action)
        if source == target:
            raise CommandError("promote needs two different environments")
        return ChatCommand(action, environment=source, target=target,
                           services=tuple(_name(s, "service", action) for s in rest[2:]))
    env = _name(rest[0], "environment", action) if rest else None
    if action in ("approve", "reject"):
        commit = rest[1] if len(rest) > 1 else None
        if commit is not None and not _COMMIT.match(commit):
            raise CommandError(f"{commit!r} is not a commit sha (usage: {usage})")
        return ChatCommand(action, environment=env, commit=commit.lower() if commit else None)
    service = _name(rest[1], "service", action) if len(rest) > 1 else None
    if action == "rollback" and len(rest) == 3:
        if not rest[2].isdigit() or int(rest[2]) < 1:
            raise CommandError(f"{rest[2]!r} is not a task definition revision number (usage: {usage})")
        return ChatCommand(action, environment=env, service=service, revision=int(rest[2]))
    if action == "deploy":
        if not _TAG.match(rest[2]):
            raise CommandError(f"{rest[2]!r} is not an image tag or sha256 digest (usage: {usage})")
        return ChatCommand(action, environment=env, service=service, tag=rest[2])
    return ChatCommand(action, environment=env, service=service)
