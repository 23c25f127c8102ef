"""Hostile manifests are refused with `file:line`, never crash or exhaust the loader, and one bad
file breaks only what reads it: alias bombs, oversize files, symlinks leaving the repository."""
from __future__ import annotations

import resource
import shutil
from pathlib import Path

import pytest

from reconciler.manifests import load_repository
from reconciler.manifests.documents import MAX_FILE_BYTES
from reconciler.manifests.yamlsource import ParseFailure, parse_text

EXAMPLES = Path(__file__).resolve().parents[2] / "deploy-manifests" / "examples"
HEALTHY = ["production/api", "production/checkout", "production/web", "staging/api", "staging/web"]


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES, root)
    return root


def alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_with_its_line_in_bounded_memory() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ParseFailure) as failure:
        parse_text(alias_bomb())
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert "values once aliases are expanded" in failure.value.reason
    assert failure.value.line is not None and 1 <= failure.value.line <= 9
    assert grown_mb < 100, grown_mb  # 9 levels of 9 expand to 387 million values without the bound


def test_many_aliases_and_self_reference_are_refused() -> None:
    many = "base: &b {x: 1}\n" + "".join(f"k{i}: *b\n" for i in range(300))
    with pytest.raises(ParseFailure, match="more than 200 aliases") as failure:
        parse_text(many)
    assert failure.value.line == 202
    with pytest.raises(ParseFailure, match="nested deeper"):
        parse_text("a: &a [*a]\n")
    assert parse_text("base: &b {x: 1}\none: *b\ntwo: {<<: *b, y: 2}\n").data["two"] == {"x": 1, "y": 2}


def test_alias_bomb_breaks_only_its_service(repo: Path) -> None:
    (repo / "environments/staging/web/service.yaml").write_text(alias_bomb())
    state = load_repository(repo)
    assert state.broken_services == frozenset({"staging/web"})
    assert sorted(s.key for s in state.services) == [k for k in HEALTHY if k != "staging/web"]
    issue = next(i for i in state.errors if i.file == "environments/staging/web/service.yaml")
    assert issue.line and "aliases are expanded" in str(issue)


def test_oversize_file_is_refused_unparsed_with_file_and_line(repo: Path) -> None:
    path = repo / "environments/staging/api/taskdef.json"
    path.write_text('{"family": "api",\n' + " " * (MAX_FILE_BYTES + 10) + "}\n")
    state = load_repository(repo)
    assert state.broken_services == frozenset({"staging/api"})
    issue = next(i for i in state.errors if i.file == "environments/staging/api/taskdef.json")
    assert issue.line == 2 and "larger than 1024 KiB" in issue.reason


def test_symlinks_leaving_the_repository_are_refused_and_the_rest_loads(repo: Path) -> None:
    taskdef = repo / "environments/staging/web/taskdef.json"
    taskdef.unlink()
    taskdef.symlink_to("/etc/passwd")
    (repo / "environments/production/web/service.yaml").unlink()
    (repo / "environments/production/web/service.yaml").symlink_to("/etc/hostname")
    (repo / "docs").mkdir()
    (repo / "docs/hosts").symlink_to("/etc/hosts")
    (repo / "docs/inside").symlink_to("../environments")  # inside the repository: fine
    state = load_repository(repo)
    assert state.broken_services == frozenset({"staging/web", "production/web"})
    assert sorted(s.key for s in state.services) == ["production/api", "production/checkout", "staging/api"]
    texts = [str(i) for i in state.errors]
    assert "docs/hosts: $: symlink points outside the repository; refused" in texts
    assert any(t.startswith("environments/production/web/service.yaml") and "outside the repository" in t
               for t in texts), texts
    assert any(t.startswith("environments/staging/web") and "outside the repository" in t for t in texts), texts
    assert not any("docs/inside" in t for t in texts)


def test_mapping_keys_are_shared_between_documents() -> None:
    """Field names repeat in every service: one string each however many services (memory at 10,000)."""
    one = parse_text('{"containerDefinitions": [{"portMappings": []}]}', is_json=True).data
    two = parse_text("containerDefinitions:\n  - portMappings: []\n").data
    [k1], [k2] = one, two
    assert k1 == k2 == "containerDefinitions" and k1 is k2
    assert next(iter(one[k1][0])) is next(iter(two[k2][0]))
