"""Load a whole manifest repository into a DesiredState, one broken service at a time.

Layout: environments/<env>/environment.yaml, environments/<env>/<service>/service.yaml
and environments/<env>/<service>/taskdef.json (or .yaml). Every problem becomes an
Issue; a broken service is left out of `services` and listed in `broken_services`
so prune never deletes it, and its neighbours still load.

Each environment file and each service directory is read on its own into a unit
(`RepositoryScan`); the checks across services run when the units are assembled into
a DesiredState. So a new commit can be loaded incrementally (`RepositoryScan.rescan`):
only the units under changed paths are read again, the others are reused as they are.
"""
from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from reconciler.manifests.documents import expect_mapping, read_document
from reconciler.manifests.environment import ENV_NAME, read_environment
from reconciler.manifests.errors import ManifestError
from reconciler.manifests.issues import FileIssues
from reconciler.manifests.paths import escapes_root, reference_problem
from reconciler.manifests.pipeline import apply_image_files, with_appspec
from reconciler.manifests.service import ServiceDoc, build_gitops, check_against_taskdef, read_service
from reconciler.manifests.taskdef import check_images, read_task_definition
from reconciler.manifests.yamlsource import JsonPath, Parsed
from reconciler.model import DesiredState, Environment, Issue, ServiceSpec

ENVIRONMENTS_DIR = "environments"
ENV_FILES = ("environment.yaml", "environment.yml")
SERVICE_FILES = ("service.yaml", "service.yml")
TASKDEF_FILES = ("taskdef.json", "taskdef.yaml", "taskdef.yml")
SERVICE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")  # ECS CreateService serviceName rule
#: The only positions the checks across services point at (`cross_check`): a unit keeps the
#: lines of these, not the whole line map of its files.
_CROSS_CHECK_PATHS: tuple[JsonPath, ...] = (("serviceName",), ("family",))


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

    def fresh(self) -> _Candidate:
        """A copy whose issue lists the cross-service checks may extend (the unit stays as read)."""
        return replace(self, service_sink=replace(self.service_sink, issues=list(self.service_sink.issues)),
                       taskdef_sink=replace(self.taskdef_sink, issues=list(self.taskdef_sink.issues))
                       if self.taskdef_sink is not None else None)


@dataclass(frozen=True)
class _Entry:
    """One entry of an environment directory: a service directory or a stray file."""

    issues: tuple[Issue, ...] = ()     # refused before it became a candidate, or a stray-file warning
    broken: str | None = None          # key of a service refused before it became a candidate
    candidate: _Candidate | None = None


@dataclass(frozen=True)
class _EnvUnit:
    """One environment directory: its environment.yaml and its entries, each read on its own."""

    issues: tuple[Issue, ...] = ()
    environment: Environment | None = None
    entries: Mapping[str, _Entry] = field(default_factory=dict)
    refused: bool = False  # name or location refused: its entries are not read at all


class _Loader:
    def __init__(self, root: Path) -> None:
        self.root = root

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def environment_unit(self, env_dir: Path) -> _EnvUnit:
        name = env_dir.name
        if escapes_root(self.root, env_dir):
            return _EnvUnit(issues=(Issue(f"{ENVIRONMENTS_DIR}/{name}", None, "",
                                          "directory resolves outside the repository (symlink)"),), refused=True)
        if not ENV_NAME.match(name):
            return _EnvUnit(issues=(Issue(self.rel(env_dir), None, "",
                                          f"environment name {name!r} must match {ENV_NAME.pattern}"),), refused=True)
        issues, environment = self._environment_file(env_dir)
        entries = {}
        for path in sorted(env_dir.iterdir()):
            entry = self.entry(name, environment, path)
            if entry is not None:
                entries[path.name] = entry
        return _EnvUnit(issues=issues, environment=environment, entries=entries)

    def entry(self, env_name: str, environment: Environment | None, path: Path) -> _Entry | None:
        """The unit of one path directly under an environment directory (None: not part of the layout)."""
        if path.name.startswith("."):
            return None
        if path.is_dir():
            return self._service_dir(env_name, environment, path)
        if path.name in ENV_FILES or not (path.exists() or path.is_symlink()):
            return None
        return _Entry(issues=(Issue(self.rel(path), None, "", "ignored: not part of the manifest layout "
                                    "(expected environment.yaml and one directory per service)", "warning"),))

    def _environment_file(self, env_dir: Path) -> tuple[tuple[Issue, ...], Environment | None]:
        path = _first_existing(env_dir, ENV_FILES)
        if path is None:
            return (Issue(self.rel(env_dir / ENV_FILES[0]), None, "", "missing environment.yaml"),), None
        data, sink = read_document(path, self.rel(path), self.root)
        mapping = expect_mapping(data, sink, "environment settings")
        environment = read_environment(env_dir.name, mapping, sink) if mapping is not None else None
        return tuple(sink.issues), environment

    def _service_dir(self, env_name: str, environment: Environment | None, svc_dir: Path) -> _Entry:
        key = f"{env_name}/{svc_dir.name}"
        if escapes_root(self.root, svc_dir):
            return _Entry((Issue(self.rel(svc_dir), None, "", "directory resolves outside the repository (symlink)"),),
                          key)
        if not SERVICE_NAME.match(svc_dir.name):
            return _Entry((Issue(self.rel(svc_dir), None, "", f"service directory name must match "
                                 f"{SERVICE_NAME.pattern}"),), key)
        path = _first_existing(svc_dir, SERVICE_FILES)
        if path is None:
            return _Entry((Issue(self.rel(svc_dir / SERVICE_FILES[0]), None, "", "missing service.yaml"),), key)
        data, sink = read_document(path, self.rel(path), self.root)
        mapping = expect_mapping(data, sink, "CreateService fields and a gitops block")
        if mapping is None:
            return _Entry(tuple(sink.issues), key)
        doc = read_service(mapping, sink, dir_name=svc_dir.name,
                           cluster=environment.cluster if environment else None)
        doc = with_appspec(svc_dir, self.rel, self.root, doc, sink)  # CodePipeline's appspec.yaml (manifests/pipeline.py)
        taskdef, td_sink, td_file = self._taskdef(svc_dir, doc, sink)
        candidate = _Candidate(env_name, environment, doc, taskdef, sink, td_sink, td_file)
        if taskdef is not None and td_sink is not None:
            check_images(taskdef, td_sink, allow_latest=doc.gitops.get("allowLatestTag") is True)
            check_against_taskdef(doc, taskdef, td_file, sink)
        candidate.broken = environment is None or taskdef is None or sink.has_errors or bool(
            td_sink and td_sink.has_errors)
        _keep_cross_check_lines(sink)
        if td_sink is not None:
            _keep_cross_check_lines(td_sink)
        return _Entry(candidate=candidate)

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
        if data is not None:  # CodePipeline's imageDetail.json / imagedefinitions.json (manifests/pipeline.py)
            apply_image_files(svc_dir, self.rel, self.root, data, td_sink, path.name)
        taskdef, inner = read_task_definition(data, td_sink, fargate=doc.runs_on_fargate())
        return taskdef, inner, self.rel(path)


def _keep_cross_check_lines(sink: FileIssues) -> None:
    """Keep only the line numbers `cross_check` can still ask for: a unit lives as long as its
    commit is cached, and the full line map of every file would be most of its memory."""
    if sink.parsed is None:
        return
    wanted: set[JsonPath] = set()
    for path in _CROSS_CHECK_PATHS:
        full = (*sink.prefix, *path)
        wanted.update(full[:end] for end in range(len(full) + 1))
    lines = {p: line for p in wanted if (line := sink.parsed.lines.get(p)) is not None}
    sink.parsed = Parsed(None, lines)


def cross_check(candidates: list[_Candidate]) -> None:
    """Checks across services: names unique per cluster, families unique per account+region."""
    by_cluster: dict[tuple[Any, ...], list[_Candidate]] = defaultdict(list)
    by_family: dict[tuple[Any, ...], list[_Candidate]] = defaultdict(list)
    for c in candidates:
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


@dataclass(frozen=True)
class RepositoryScan:
    """Every unit of one commit's manifests, read; `desired()` assembles them into a DesiredState."""

    root: Path
    environments: Mapping[str, _EnvUnit]   # every directory under environments/ (not hidden), sorted
    symlinks: bool = False                 # the tree holds a symlink: `rescan` then loads in full
    outside: tuple[str, ...] = ()          # symlinks resolving outside the tree

    def desired(self, *, env: str | None = None, service: str | None = None) -> DesiredState:
        """The DesiredState, narrowed to one environment or service name; cross-service checks
        still see the whole repository."""
        if env is not None and env not in self.environments:
            known = ", ".join(self.environments) or "none"
            raise ManifestError(f"no environment {env!r} in {str(self.root / ENVIRONMENTS_DIR)!r} (found: {known})")
        issues: list[Issue] = []
        broken: set[str] = set()
        environments: dict[str, Environment] = {}
        candidates: list[_Candidate] = []
        for unit in self.environments.values():
            issues.extend(unit.issues)
            if unit.environment is not None:
                environments[unit.environment.name] = unit.environment
            for entry in unit.entries.values():
                issues.extend(entry.issues)
                if entry.broken is not None:
                    broken.add(entry.broken)
                if entry.candidate is not None:
                    candidates.append(entry.candidate.fresh())
        cross_check(candidates)
        services: list[ServiceSpec] = []
        for c in candidates:
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
        # Links nothing reads are refused too (`validate` must not call them valid); those the
        # loader already refused while reading are not named twice.
        named = {i.file for i in issues} | {i.file.rpartition("/")[0] for i in issues
                                            if "outside the repository" in i.reason}
        issues += [Issue(link, None, "", "symlink points outside the repository; refused")
                   for link in self.outside if not {link, link.rpartition("/")[0]} & named]
        return _narrow(environments, services, issues, broken, env, service)

    def rescan(self, root: str | Path, changed: Iterable[str]) -> RepositoryScan:
        """The scan of another commit whose tree differs from this one's only at `changed` paths
        (relative to `root`, as `git diff --name-only` lists them): the units under those paths
        are read again, the others reused. An environment file change reads its whole environment
        again. Symlinks (whose targets no path list can follow) and a missing environments/
        directory fall back to a full scan."""
        root = Path(root)
        envs_dir = root / ENVIRONMENTS_DIR
        if self.symlinks or not envs_dir.is_dir() or envs_dir.is_symlink():
            return scan_repository(root)
        whole: set[str] = set()
        entries: dict[str, set[str]] = defaultdict(set)
        for changed_path in changed:
            parts = PurePosixPath(changed_path).parts
            if any((root.joinpath(*parts[:end])).is_symlink() for end in range(1, len(parts) + 1)):
                return scan_repository(root)
            if not parts or parts[0] != ENVIRONMENTS_DIR:
                continue  # outside environments/: nothing the loader reads
            if len(parts) < 2:
                return scan_repository(root)
            if len(parts) == 2 or len(parts) == 3 or parts[1] not in self.environments:
                whole.add(parts[1])   # the environment directory, its environment.yaml, or a stray file
            else:
                entries[parts[1]].add(parts[2])
        loader = _Loader(root.resolve())
        # An environment directory gone with all its files (none of them its environment.yaml).
        whole.update(name for name in entries if not (loader.root / ENVIRONMENTS_DIR / name).is_dir())
        units = dict(self.environments)
        for name in whole:
            env_dir = loader.root / ENVIRONMENTS_DIR / name
            if env_dir.is_dir() and not name.startswith("."):
                units[name] = loader.environment_unit(env_dir)
            else:
                units.pop(name, None)
        for name, names in entries.items():
            unit = units.get(name)
            if name in whole or unit is None or unit.refused:
                continue
            kept = dict(unit.entries)
            for entry_name in names:
                entry = loader.entry(name, unit.environment, loader.root / ENVIRONMENTS_DIR / name / entry_name)
                if entry is None:
                    kept.pop(entry_name, None)
                else:
                    kept[entry_name] = entry
            units[name] = replace(unit, entries=dict(sorted(kept.items())))
        return RepositoryScan(loader.root, dict(sorted(units.items())))


def scan_repository(root: str | Path) -> RepositoryScan:
    """Read every unit under `root`; never raises for bad manifests (only for a missing layout)."""
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
    loader = _Loader(root.resolve())
    units = {d.name: loader.environment_unit(loader.root / ENVIRONMENTS_DIR / d.name) for d in env_dirs}
    links, outside = _symlinks(loader.root)
    return RepositoryScan(loader.root, units, symlinks=bool(links), outside=tuple(outside))


def load_repository(root: str | Path, *, env: str | None = None, service: str | None = None) -> DesiredState:
    """Load every environment and service under `root`; never raises for bad manifests.

    `env`/`service` narrow the result (and its issues) to one environment or service
    name; cross-service checks still see the whole repository.
    """
    return scan_repository(root).desired(env=env, service=service)


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


def _symlinks(root: Path) -> tuple[list[str], list[str]]:
    """Every symlink under `root`, and those that resolve outside it (relative paths)."""
    links, outside = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in (*dirnames, *filenames):
            path = Path(dirpath) / name
            if path.is_symlink():
                links.append(path.relative_to(root).as_posix())
                if escapes_root(root, path):
                    outside.append(links[-1])
    return sorted(links), sorted(outside)


def outside_links(root: Path) -> list[str]:
    """Every symlink under `root` that resolves outside it (relative paths), whatever reads it."""
    return _symlinks(root)[1]


def issue_order(issue: Issue) -> tuple[str, int]:
    """Stable reading order: by file, then line (issues without a line first)."""
    return issue.file, issue.line or 0


def _first_existing(directory: Path, names: tuple[str, ...]) -> Path | None:
    return next((directory / n for n in names if (directory / n).is_file()), None)
