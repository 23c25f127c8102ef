"""Image reference policy: every image names an explicit tag or digest.

A moving tag (no tag means `latest`) makes rollbacks and drift detection
meaningless: the same git commit could run different code.
"""
from __future__ import annotations

import re

_DIGEST = re.compile(r"@[A-Za-z0-9_+.-]+:[0-9a-fA-F]{32,}$")


def image_problem(image: str, *, allow_latest: bool) -> str | None:
    """Why `image` is not pinned, or None when it is acceptable."""
    if _DIGEST.search(image):
        return None
    last = image.rsplit("/", 1)[-1]  # a registry host may carry a :port
    if ":" not in last:
        return (f"image {image!r} has no tag or digest; pin an explicit tag "
                f"(e.g. {image}:1.2.3) or a digest (@sha256:...)")
    tag = last.split(":", 1)[1]
    if not tag:
        return f"image {image!r} has an empty tag"
    if tag == "latest" and not allow_latest:
        return (f"image {image!r} uses the moving tag 'latest'; pin a version, "
                "or set gitops.allowLatestTag: true to opt in")
    return None
