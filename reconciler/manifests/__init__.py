"""The manifest repository: the users' contract, loaded into `DesiredState`.

Pure core: reads files, never talks to AWS (botocore is used only for its
offline service model).
"""
from __future__ import annotations

from reconciler.manifests.errors import ManifestError
from reconciler.manifests.repository import RepositoryScan, load_repository, scan_repository
from reconciler.manifests.schema import schema
from reconciler.manifests.taskdef import TaskDefinitionFile, load_task_definition

__all__ = ["ManifestError", "RepositoryScan", "TaskDefinitionFile", "load_repository", "load_task_definition",
           "scan_repository", "schema"]
