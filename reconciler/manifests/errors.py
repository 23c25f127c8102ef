"""The one exception of the manifests package: a usage problem, not a bad manifest."""
from __future__ import annotations


class ManifestError(Exception):
    """Raised when the repository cannot be read at all (missing root, no environments dir).

    Bad manifests never raise: they become `Issue`s so one broken file cannot hide
    the state of every other service.
    """
