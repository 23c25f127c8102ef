"""Image reference policy: every image names an explicit tag or digest.

A moving tag (no tag means `latest`) makes rollbacks and drift detection
meaningless: the same git commit could run different code. Users may opt in
with `gitops.allowLatestTag: true`, for `:latest` and for no tag alike (AWS
accepts both: "If no tag is specified, latest is used", [ecs-dg] ContainerDefinition.image).
"""
from __future__ import annotations

import re

_DIGEST = re.compile(r"@[A-Za-z0-9_+.-]+:[0-9a-fA-F]{32,}$")
#: `<IMAGE1_NAME>`-style placeholders that CodePipeline's ECS actions replace at deploy time
#: (CodePipeline user guide, "Image definitions file reference": imageDetail.json / Image1ArtifactName).
_PIPELINE_PLACEHOLDER = re.compile(r"<[A-Za-z0-9_]+>")


def placeholder_problem(image: str) -> str | None:
    """Why `image` is a deploy-time placeholder rather than an image, or None."""
    match = _PIPELINE_PLACEHOLDER.search(image)
    if not match:
        return None
    return (f"image {image!r} is a CodePipeline placeholder ({match.group(0)}), not an image: put the "
            "real image (with its tag) in the task definition file, or provide the imageDetail.json "
            "that resolves it")


def image_problem(image: str, *, allow_latest: bool) -> str | None:
    """Why `image` is not pinned, or None when it is acceptable."""
    if _DIGEST.search(image):
        return None
    last = image.rsplit("/", 1)[-1]  # a registry host may carry a :port
    if ":" not in last:
        if allow_latest:
            return None  # no tag means latest, and the user opted in
        return (f"image {image!r} has no tag or digest (so it means :latest); pin an explicit tag "
                f"(e.g. {image}:1.2.3) or a digest (@sha256:...), or set gitops.allowLatestTag: true to opt in")
    tag = last.split(":", 1)[1]
    if not tag:
        return f"image {image!r} has an empty tag"
    if tag == "latest" and not allow_latest:
        return (f"image {image!r} uses the moving tag 'latest'; pin a version, "
                "or set gitops.allowLatestTag: true to opt in")
    return None
