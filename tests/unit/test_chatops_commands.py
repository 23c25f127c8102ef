"""The chat command language and who may use it."""
from __future__ import annotations

import pytest

from reconciler.chatops.commands import ChatCommand, CommandError, help_text, parse
from reconciler.chatops.permissions import PermissionConfigError, Permissions


@pytest.mark.parametrize(("text", "expected"), [
    ("", ChatCommand("help")),
    ("status", ChatCommand("status")),
    ("status staging web", ChatCommand("status", environment="staging", service="web")),
    ("sync production", ChatCommand("sync", environment="production")),
    ("approve production 1A2B3C4D", ChatCommand("approve", environment="production", commit="1a2b3c4d")),
    ("reject staging", ChatCommand("reject", environment="staging")),
    ("rollback production web 7", ChatCommand("rollback", environment="production", service="web", revision=7)),
    ("continue production web", ChatCommand("continue", environment="production", service="web")),
    ("abort production web", ChatCommand("abort", environment="production", service="web")),
    ("PAUSE staging api", ChatCommand("pause", environment="staging", service="api")),
    ("deploy staging web 1.5.0", ChatCommand("deploy", environment="staging", service="web", tag="1.5.0")),
    ("deploy staging web sha256:" + "a" * 64,
     ChatCommand("deploy", environment="staging", service="web", tag="sha256:" + "a" * 64)),
    ("promote staging production web api",
     ChatCommand("promote", environment="staging", target="production", services=("web", "api"))),
    ("history production", ChatCommand("history", environment="production")),
])
def test_parse(text: str, expected: ChatCommand) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(("text", "words"), [
    ("launch staging", "unknown command 'launch'"),
    ("deploy staging web", "usage: deploy ENV SERVICE TAG"),
    ("deploy staging web 1.5.0;rm", "not an image tag"),
    ("approve production zzz", "not a commit sha"),
    ("rollback production web seven", "not a task definition revision"),
    ("promote staging staging", "two different environments"),
    ("sync ../etc", "not a valid environment name"),
])
def test_parse_errors_say_why(text: str, words: str) -> None:
    with pytest.raises(CommandError, match=words.replace("(", r"\(").replace(";", ";")):
        parse(text)


def test_help_lists_every_command_under_the_configured_name() -> None:
    text = help_text("/deployer")
    assert "`/deployer deploy ENV SERVICE TAG`" in text and "`/deployer promote FROM_ENV TO_ENV [SERVICE ...]`" in text


def no_groups(group: str) -> list[str]:
    return []


PERMS = Permissions.from_mapping({"permissions": [
    {"environments": ["*"], "actions": ["*"], "groups": ["SDEVS"]},
    {"environments": ["production"], "actions": ["deploy", "rollback"], "users": ["UDANA"]},
]})


def test_reads_are_open_and_writes_need_a_rule() -> None:
    assert Permissions().check("UANY", "production", "status", no_groups).allowed
    assert Permissions().check("UANY", None, "help", no_groups).allowed
    refused = Permissions().check("UANY", "staging", "deploy", no_groups)
    assert not refused.allowed and "no permission is configured" in refused.reason


def test_group_membership_and_wildcards_never_open_production() -> None:
    members = {"SDEVS": ["UBOB"]}.get
    assert PERMS.check("UBOB", "staging", "deploy", lambda g: members(g) or []).allowed
    prod = PERMS.check("UBOB", "production", "deploy", lambda g: members(g) or [])
    assert not prod.allowed and "not allowed to deploy in production" in prod.reason
    assert PERMS.check("UDANA", "production", "deploy", no_groups).allowed
    sync = PERMS.check("UDANA", "production", "sync", no_groups)
    assert not sync.allowed and "production is protected" in sync.reason


def test_reads_restricted_when_a_rule_names_them() -> None:
    perms = Permissions.from_mapping({"permissions": [{"environments": ["*"], "actions": ["history"],
                                                       "users": ["UAUDIT"]}]})
    assert perms.check("UAUDIT", "staging", "history", no_groups).allowed
    assert not perms.check("UBOB", "staging", "history", no_groups).allowed
    assert perms.check("UBOB", "staging", "status", no_groups).allowed


@pytest.mark.parametrize(("raw", "words"), [
    ({"permissions": [{"environments": ["x"], "actions": ["launch"]}]}, r"permissions\[0\].actions: unknown action"),
    ({"permissions": [{"environments": "x", "actions": ["sync"]}]}, r"permissions\[0\].environments: expected a list"),
    ({"permissions": [{"environments": ["x"], "actions": ["sync"], "user": ["U1"]}]}, "unknown field"),
])
def test_bad_permission_config_names_the_field(raw: dict, words: str) -> None:
    with pytest.raises(PermissionConfigError, match=words):
        Permissions.from_mapping(raw)
