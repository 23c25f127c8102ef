"""Compare two canonical documents with DeepDiff and report FieldChanges by path.

Canonical documents hold named things as dicts, so DeepDiff's key path is
already our path (`containerDefinitions/web/image`). Lists left in canonical
form are ordered values (command, entryPoint, sorted sets of strings): a change
anywhere inside one reports the whole list, which reads better than indexes.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from deepdiff import DeepDiff

from reconciler.model import Drift, FieldChange

_MISSING = object()
#: Canonical dicts that stand for lists of named things (or plain maps): when one
#: side has none at all, each entry is reported on its own path
#: (`+ environment/LOG_LEVEL`), the same as when both sides have some.
COLLECTIONS = frozenset({
    "containerDefinitions", "environment", "secrets", "tags", "portMappings", "mountPoints",
    "volumesFrom", "ulimits", "systemControls", "resourceRequirements", "dependsOn", "extraHosts",
    "volumes", "inferenceAccelerators", "properties", "dockerLabels", "options", "secretOptions",
    "capacityProviderStrategy", "loadBalancers", "serviceRegistries", "volumeConfigurations",
})


def _split(path: str) -> list[str]:
    return [s for s in path.strip().strip("/").split("/")]


def _prefix_matches(pattern: list[str], segments: list[str]) -> bool:
    return all(fnmatchcase(seg, pat) for pat, seg in zip(pattern, segments, strict=False))


def match_ignore(path: str, patterns: Sequence[str]) -> bool:
    """True when `path` or one of its ancestors matches a pattern (`*` = one segment)."""
    segments = _split(path)
    for pattern in patterns:
        pat = _split(pattern)
        if pat and len(pat) <= len(segments) and _prefix_matches(pat, segments):
            return True
    return False


def _ignored_below(path: str, patterns: Sequence[str]) -> bool:
    """True when some pattern addresses something strictly below `path`."""
    segments = _split(path)
    return any(len(p) > len(segments) and _prefix_matches(p[:len(segments)], segments)
               for p in (_split(x) for x in patterns))


def _get(doc: Any, segments: Sequence[str]) -> Any:
    for seg in segments:
        if not isinstance(doc, Mapping) or seg not in doc:
            return _MISSING
        doc = doc[seg]
    return doc


def _changed_paths(desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[tuple[str, ...]]:
    # threshold_to_diff_deeper=0: always descend into dicts, even when no key is shared
    tree = DeepDiff(live, desired, view="tree", verbose_level=2, threshold_to_diff_deeper=0)
    paths: set[tuple[str, ...]] = set()
    for report in tree.values():
        for level in report:
            segments: list[str] = []
            for seg in level.path(output_format="list"):
                if isinstance(seg, int):  # inside an ordered list: report the list as a whole
                    break
                segments.append(str(seg))
            paths.add(tuple(segments))
    return sorted(p for p in paths if not any(p[:n] in paths for n in range(len(p))))


def _changes(prefix: str, segments: tuple[str, ...], desired: Any, live: Any,
             ignore: Sequence[str]) -> Iterator[FieldChange]:
    path = "/".join((prefix, *segments))
    if match_ignore(path, ignore):
        return
    one_sided = (desired is _MISSING or live is _MISSING) and bool(segments) and segments[-1] in COLLECTIONS
    if (isinstance(desired, Mapping) or isinstance(live, Mapping)) and (
            one_sided or _ignored_below(path, ignore)):
        # Report entries of a one-sided collection, or of a subtree with ignored parts, one by one.
        d = desired if isinstance(desired, Mapping) else {}
        lm = live if isinstance(live, Mapping) else {}
        for key in sorted(set(d) | set(lm)):
            dv, lv = d.get(key, _MISSING), lm.get(key, _MISSING)
            if dv != lv:
                yield from _changes(prefix, (*segments, key), dv, lv, ignore)
        return
    kind = "added" if live is _MISSING else "removed" if desired is _MISSING else "changed"
    yield FieldChange(path=path, kind=kind,
                      desired=None if desired is _MISSING else desired,
                      live=None if live is _MISSING else live)


def _identical(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (1 vs 1.0 vs True differ, as for DeepDiff)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_identical(v, b[k]) for k, v in a.items())
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def compare(prefix: str, desired: Mapping[str, Any], live: Mapping[str, Any],
            ignore: Sequence[str] = ()) -> Drift:
    """Drift between two canonical documents, paths prefixed with `prefix`."""
    if _identical(desired, live):  # the common, in-sync case: DeepDiff would find nothing, slowly
        return Drift()
    changes: list[FieldChange] = []
    for segments in _changed_paths(desired, live):
        changes.extend(_changes(prefix, segments, _get(desired, segments), _get(live, segments), ignore))
    return Drift(changes=tuple(changes))
