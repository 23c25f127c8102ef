"""Load a whole manifest repository into a DesiredState, one broken service at a time.

Layout: environments/<env>/environment.yaml, environments/<env>/<service>/service.yaml
and environments/<env>/<service>/taskdef.json (or .yaml). Every problem becomes an
Issue; a broken service is left out of `services` and listed in `broken_services`
so prune never deletes it, and its neighbours still load.
"""
from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.manifests.documents import expect_mapping, read_document
from reconciler.manifests.environment import ENV_NAME, read_environment
from reconciler.manifests.errors import ManifestError
from reconciler.manifests.issues import FileIssues
from reconciler.manifests.paths import escapes_root, reference_problem
from reconciler.manifests.service import ServiceDoc, build_gitops, check_against_taskdef, read_service
from reconciler.manifests.taskdef import check_images, read_task_definition
from reconciler.model import DesiredState, Environment, Issue, ServiceSpec

ENVIRONMENTS_DIR = "environments"
ENV_FILES = ("environment.yaml", "environment.yml")
SERVICE_FILES = ("service.yaml", "service.yml")
TASKDEF_FILES = ("taskdef.json", "taskdef.yaml", "taskdef.yml")
SERVICE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")  # ECS CreateService serviceName rule


@dataclass
class _Candidate:
    """A service as far as it could be read, before cross-service checks."""

    env_name: str
    environment: Environment | None
    doc: ServiceDoc
    taskdef: dict[str, Any] | None
    service_sink: FileIssues
    taskdef_sink: FileIssues | None
    taskdef_file: str
    broken: bool = False

    @property
    def key(self) -> str:
        return f"{self.env_name}/{self.doc.name}"


@dataclass
class _Loader:
    root: Path
    issues: list[Issue] = field(default_factory=list)
    environments: dict[str, Environment] = field(default_factory=dict)
    candidates: list[_Candidate] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def load_environment_dir(self, env_dir: Path) -> None:
        name = env_dir.name
        if not ENV_NAME.match(name):
            self.issues.append(Issue(self.rel(env_dir), None, "", f"environment name {name!r} must match {ENV_NAME.pattern}"))
            return
        environment = self._environment_file(env_dir)
        for entry in sorted(env_dir.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                self._service_dir(name, environment, entry)
            elif entry.name not in ENV_FILES:
                self.issues.append(Issue(self.rel(entry), None, "", "ignored: not part of the manifest layout "
                                         "(expected environment.yaml and one directory per service)", "warning"))

    def _environment_file(self, env_dir: Path) -> Environment | None:
        path = _first_existing(env_dir, ENV_FILES)
        if path is None:
            self.issues.append(Issue(self.rel(env_dir / ENV_FILES[0]), None, "", "missing environment.yaml"))
            return None
        data, sink = read_document(path, self.rel(path), self.root)
        mapping = expect_mapping(data, sink, "environment settings")
        environment = read_environment(env_dir.name, mapping, sink) if mapping is not None else None
        self.issues.extend(sink.issues)
        if environment is not None:
            self.environments[environment.name] = environment
        return environment

    def _service_dir(self, env_name: str, environment: Environment | None, svc_dir: Path) -> None:
        key = f"{env_name}/{svc_dir.name}"
        if escapes_root(self.root, svc_dir):
            self._broken(key, Issue(self.rel(svc_dir), None, "", "directory resolves outside the repository (symlink)"))
            return
        if not SERVICE_NAME.match(svc_dir.name):
            self._broken(key, Issue(self.rel(svc_dir), None, "", f"service directory name must match {SERVICE_NAME.pattern}"))
            return
        path = _first_existing(svc_dir, SERVICE_FILES)
        if path is None:
            self._broken(key, Issue(self.rel(svc_dir / SERVICE_FILES[0]), None, "", "missing service.yaml"))
            return
        data, sink = read_document(path, self.rel(path), self.root)
        mapping = expect_mapping(data, sink, "CreateService fields and a gitops block")
        if mapping is None:
            self._broken(key, *sink.issues)
            return
        doc = read_service(mapping, sink, dir_name=svc_dir.name,
                           cluster=environment.cluster if environment else None)
        taskdef, td_sink, td_file = self._taskdef(svc_dir, doc, sink)
        candidate = _Candidate(env_name, environment, doc, taskdef, sink, td_sink, td_file)
        if taskdef is not None and td_sink is not None:
            check_images(taskdef, td_sink, allow_latest=doc.gitops.get("allowLatestTag") is True)
            check_against_taskdef(doc, taskdef, td_file, sink)
        candidate.broken = environment is None or taskdef is None or sink.has_errors or bool(
            td_sink and td_sink.has_errors)
        self.candidates.append(candidate)

    def _taskdef(self, svc_dir: Path, doc: ServiceDoc,
                 sink: FileIssues) -> tuple[dict[str, Any] | None, FileIssues | None, str]:
        reference = doc.gitops.get("taskDefinitionFile")
        if isinstance(reference, str):
            problem = reference_problem(self.root, svc_dir, reference)
            if problem:
                sink.error(("gitops", "taskDefinitionFile"), problem)
                return None, None, ""
            path: Path | None = svc_dir / reference
            if not path.is_file():
                sink.error(("gitops", "taskDefinitionFile"), f"file {reference!r} does not exist")
                return None, None, ""
        else:
            found = [svc_dir / n for n in TASKDEF_FILES if (svc_dir / n).is_file()]
            if len(found) > 1:
                sink.error((), f"both {found[0].name} and {found[1].name} exist; keep one "
                               "(or name it with gitops.taskDefinitionFile)")
            path = found[0] if found else None
            if path is None:
                sink.error((), "no taskdef.json or taskdef.yaml next to service.yaml")
                return None, None, ""
            if escapes_root(self.root, path):
                sink.error((), f"{path.name} resolves outside the repository (symlink)")
                return None, None, ""
        data, td_sink = read_document(path, self.rel(path), self.root)
        taskdef, inner = read_task_definition(data, td_sink, fargate=doc.runs_on_fargate())
        return taskdef, inner, self.rel(path)

    def _broken(self, key: str, *issues: Issue) -> None:
        self.broken.add(key)
        self.issues.extend(issues)

    def cross_check(self) -> None:
        """Checks across services: names unique per cluster, families unique per account+region."""
        by_cluster: dict[tuple[Any, ...], list[_Candidate]] = defaultdict(list)
        by_family: dict[tuple[Any, ...], list[_Candidate]] = defaultdict(list)
        for c in self.candidates:
            if c.environment is None:
                continue
            scope = (c.environment.account_id, c.environment.region)
            by_cluster[(*scope, c.environment.cluster, c.doc.name)].append(c)
            family = (c.taskdef or {}).get("family")
            if isinstance(family, str):
                by_family[(*scope, family)].append(c)
        for (_a, _r, cluster, name), group in by_cluster.items():
            for c in group if len(group) > 1 else ():
                others = ", ".join(o.key for o in group if o is not c)
                c.service_sink.error(("serviceName",) if "serviceName" in c.doc.service else (),
                                     f"service {name!r} is declared more than once in cluster {cluster!r} (also {others})")
                c.broken = True
        for (_a, _r, family), group in by_family.items():
            for c in group if len(group) > 1 else ():
                others = ", ".join(f"{o.key} ({o.taskdef_file})" for o in group if o is not c)
                assert c.taskdef_sink is not None
                c.taskdef_sink.error(("family",), f"task definition family {family!r} is also used by {others}; "
                                                  "each service needs its own family")
                c.broken = True

    def finish(self) -> tuple[list[ServiceSpec], list[Issue], set[str]]:
        services: list[ServiceSpec] = []
        issues = list(self.issues)
        broken = set(self.broken)
        for c in self.candidates:
            issues.extend(c.service_sink.issues)
            if c.taskdef_sink is not None:
                issues.extend(c.taskdef_sink.issues)
            if c.broken or c.environment is None or c.taskdef is None:
                broken.add(c.key)
                continue
            services.append(ServiceSpec(
                environment=c.env_name, name=c.doc.name, service=c.doc.service, task_definition=c.taskdef,
                gitops=build_gitops(c.doc, c.environment.sync_policy),
                service_file=c.service_sink.file, taskdef_file=c.taskdef_file))
        return services, issues, broken


def load_repository(root: str | Path, *, env: str | None = None, service: str | None = None) -> DesiredState:
    """Load every environment and service under `root`; never raises for bad manifests.

    `env`/`service` narrow the result (and its issues) to one environment or service
    name; cross-service checks still see the whole repository.
    """
    root = Path(root)
    if not root.exists():
        raise ManifestError(f"manifest repository {str(root)!r} does not exist")
    if not root.is_dir():
        raise ManifestError(f"manifest repository {str(root)!r} is not a directory")
    envs_dir = root / ENVIRONMENTS_DIR
    if not envs_dir.is_dir():
        raise ManifestError(f"{str(root)!r} has no {ENVIRONMENTS_DIR}/ directory; expected "
                            f"{ENVIRONMENTS_DIR}/<env>/environment.yaml (see docs/manifests.md)")
    env_dirs = [d for d in sorted(envs_dir.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    if env is not None and env not in {d.name for d in env_dirs}:
        known = ", ".join(d.name for d in env_dirs) or "none"
        raise ManifestError(f"no environment {env!r} in {str(envs_dir)!r} (found: {known})")
    loader = _Loader(root.resolve())
    for env_dir in env_dirs:
        if escapes_root(root, env_dir):
            loader.issues.append(Issue(f"{ENVIRONMENTS_DIR}/{env_dir.name}", None, "",
                                       "directory resolves outside the repository (symlink)"))
            continue
        loader.load_environment_dir(loader.root / ENVIRONMENTS_DIR / env_dir.name)
    loader.cross_check()
    services, issues, broken = loader.finish()
    # Links nothing reads are refused too (`validate` must not call them valid); those the
    # loader already refused while reading are not named twice.
    named = {i.file for i in issues} | {i.file.rpartition("/")[0] for i in issues if "outside the repository" in i.reason}
    issues += [Issue(link, None, "", "symlink points outside the repository; refused")
               for link in outside_links(loader.root) if not {link, link.rpartition("/")[0]} & named]
    return _narrow(loader.environments, services, issues, broken, env, service)


def _narrow(environments: dict[str, Environment], services: list[ServiceSpec], issues: list[Issue],
            broken: set[str], env: str | None, service: str | None) -> DesiredState:
    def wanted_key(key: str) -> bool:
        env_name, _, name = key.partition("/")
        return (env is None or env_name == env) and (service is None or name == service)

    def wanted_issue(issue: Issue) -> bool:
        parts = issue.file.split("/")
        if len(parts) < 2 or parts[0] != ENVIRONMENTS_DIR:
            return env is None and service is None
        if env is not None and parts[1] != env:
            return False
        if service is not None and len(parts) > 3 and parts[2] != service:
            return False
        return True

    return DesiredState(
        environments={k: v for k, v in environments.items() if env is None or k == env},
        services=tuple(s for s in services if wanted_key(s.key)),
        issues=tuple(sorted((i for i in issues if wanted_issue(i)), key=issue_order)),
        broken_services=frozenset(k for k in broken if wanted_key(k)),
    )


def outside_links(root: Path) -> list[str]:
    """Every symlink under `root` that resolves outside it (relative paths), whatever reads it."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in (*dirnames, *filenames):
            path = Path(dirpath) / name
            if path.is_symlink() and escapes_root(root, path):
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


def issue_order(issue: Issue) -> tuple[str, int]:
    """Stable reading order: by file, then line (issues without a line first)."""
    return issue.file, issue.line or 0


def _first_existing(directory: Path, names: tuple[str, ...]) -> Path | None:
    return next((directory / n for n in names if (directory / n).is_file()), None)
