"""deploy/promote edits: only the image string changes, formatting and comments stay."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.chatops.gitedit import apply_edit, deploy_edit, promote_edits, unified_diff
from reconciler.chatops.imageedit import EditError, images, repository, set_images, with_tag
from reconciler.manifests import load_repository

EXAMPLES = Path(__file__).parents[2] / "deploy-manifests" / "examples"
REG = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"

YAML = f"""# the web task
family: web-staging   # keep me
containerDefinitions:
  - name: web
    image: {REG}/web:1.4.2    # bumped by CI
    essential: true
  - name: sidecar
    image: 'public.ecr.aws/nginx/nginx:1.25'
  - name: log
    image: "amazon/aws-for-fluent-bit:2.31"
"""


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    return [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]


def test_yaml_keeps_comments_quotes_and_spacing() -> None:
    after = set_images(YAML, {"web": f"{REG}/web:1.5.0", "sidecar": "public.ecr.aws/nginx/nginx:1.27",
                              "log": "amazon/aws-for-fluent-bit:2.32"})
    assert changed_lines(YAML, after) == [
        (f"    image: {REG}/web:1.4.2    # bumped by CI", f"    image: {REG}/web:1.5.0    # bumped by CI"),
        ("    image: 'public.ecr.aws/nginx/nginx:1.25'", "    image: 'public.ecr.aws/nginx/nginx:1.27'"),
        ('    image: "amazon/aws-for-fluent-bit:2.31"', '    image: "amazon/aws-for-fluent-bit:2.32"'),
    ]


def test_json_one_line_per_container() -> None:
    text = (EXAMPLES / "environments/staging/web/taskdef.json").read_text()
    after = set_images(text, {"web": f"{REG}/web@sha256:" + "b" * 64})
    assert changed_lines(text, after) == [(f'      "image": "{REG}/web:1.4.2",',
                                           f'      "image": "{REG}/web@sha256:{"b" * 64}",')]


def test_unknown_container_and_broken_file_are_explained() -> None:
    with pytest.raises(EditError, match="taskdef: no container named api"):
        set_images(YAML, {"api": "x:1"})
    with pytest.raises(EditError, match="containerDefinitions: missing"):
        images("family: x\n")


@pytest.mark.parametrize(("image", "tag", "expected"), [
    ("web:1", "2", "web:2"),
    ("registry:5000/team/web:1.0", "1.1", "registry:5000/team/web:1.1"),
    ("registry:5000/team/web", "1.1", "registry:5000/team/web:1.1"),
    (f"{REG}/web:1.4@sha256:{'a' * 64}", "sha256:" + "c" * 64, f"{REG}/web@sha256:{'c' * 64}"),
])
def test_with_tag(image: str, tag: str, expected: str) -> None:
    assert with_tag(image, tag) == expected
    assert repository(expected) == repository(image)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES / "environments", tmp_path / "environments")
    return tmp_path


def test_deploy_edit_writes_one_line(repo: Path) -> None:
    plan = deploy_edit(load_repository(repo), "staging", "web", "1.5.0")
    assert plan.summary() == [f"staging/web web: {REG}/web:1.4.2 → {REG}/web:1.5.0"]
    before, after = apply_edit(repo, plan.edits[0])
    diff = unified_diff(plan.edits[0].path, before, after)
    assert [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")] == [
        f'-      "image": "{REG}/web:1.4.2",', f'+      "image": "{REG}/web:1.5.0",']
    assert load_repository(repo).services  # still valid
    again = deploy_edit(load_repository(repo), "staging", "web", "1.5.0")
    assert again.edits == () and "already runs" in again.skipped[0]


def test_deploy_edit_errors(repo: Path) -> None:
    desired = load_repository(repo)
    with pytest.raises(EditError, match="no service 'nope' in environment staging"):
        deploy_edit(desired, "staging", "nope", "1")
    with pytest.raises(EditError, match="no environment 'qa'"):
        deploy_edit(desired, "qa", "web", "1")


def test_promote_copies_images_of_eligible_services(repo: Path) -> None:
    for svc in ("web", "api"):
        apply_edit(repo, deploy_edit(load_repository(repo), "staging", svc, "9.9.9").edits[0])
    desired = load_repository(repo)
    plan = promote_edits(desired, "staging", "production",
                         eligible=lambda key: "is not Synced and Healthy" if key == "staging/api" else None)
    assert [e.service for e in plan.edits] == ["production/web"]
    assert plan.skipped == ("production/api: staging/api is not Synced and Healthy",
                            "production/checkout: not in staging")
    web = plan.edits[0]
    assert web.path == "environments/production/web/taskdef.json"
    assert dict(web.images) == {"web": f"{REG}/web:9.9.9"} and dict(web.old) == {"web": f"{REG}/web:1.4.2"}
    only = promote_edits(desired, "staging", "production", ["web"])
    assert [e.service for e in only.edits] == ["production/web"]
    with pytest.raises(EditError, match="no service ghost in environment production"):
        promote_edits(desired, "staging", "production", ["ghost"])
