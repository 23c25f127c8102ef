"""Normalize desired (git) and live (AWS) ECS objects and report drift by field path.

Pure: no boto3, no git. Both sides go through the same canonical form (AWS
defaults applied, server-only fields dropped, named lists keyed by name), then
DeepDiff compares them.
"""
from reconciler.diff.compare import match_ignore
from reconciler.diff.drift import CanonCache, DesiredCanon, diff_service_spec, diff_services, diff_task_definitions
from reconciler.diff.render import render_json, render_text
from reconciler.diff.service import normalize_service
from reconciler.diff.taskdef import normalize_task_definition, spec_hash

__all__ = [
    "CanonCache",
    "DesiredCanon",
    "normalize_task_definition",
    "normalize_service",
    "diff_task_definitions",
    "diff_services",
    "diff_service_spec",
    "spec_hash",
    "render_text",
    "render_json",
    "match_ignore",
]
