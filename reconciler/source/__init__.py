"""The git side of the daemon: snapshots of the manifest repository and push hints."""
from reconciler.source.auth import GitAuth
from reconciler.source.git import GitError, GitSource, Snapshot

__all__ = ["GitAuth", "GitError", "GitSource", "Snapshot"]
