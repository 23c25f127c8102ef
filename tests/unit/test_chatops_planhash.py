"""Plan hashes bind an approval to one exact plan; the approval message lists images old → new."""
from __future__ import annotations

from reconciler.chatops.planhash import image_changes, other_fields, plan_hash
from reconciler.model import Drift, FieldChange
from reconciler.plan import ServicePlan

IMG = "taskDefinition/containerDefinitions/web/image"


def sp(name: str, new: str, extra: tuple[FieldChange, ...] = ()) -> ServicePlan:
    return ServicePlan("production", name, "update",
                       drift=Drift((FieldChange(IMG, f"web:{new}", "web:1.4.2"), *extra)))


def test_same_plan_same_hash_in_any_order() -> None:
    a, b = sp("web", "1.5.0"), sp("api", "2.0.0")
    assert plan_hash([a, b]) == plan_hash([b, a])


def test_any_change_of_git_or_aws_changes_the_hash() -> None:
    base = plan_hash([sp("web", "1.5.0")])
    assert plan_hash([sp("web", "1.5.1")]) != base
    moved_live = ServicePlan("production", "web", "update", drift=Drift((FieldChange(IMG, "web:1.5.0", "web:1.4.3"),)))
    assert plan_hash([moved_live]) != base
    assert plan_hash([sp("web", "1.5.0"), sp("api", "1")]) != base


def test_images_and_other_fields() -> None:
    plan = sp("web", "1.5.0", (FieldChange("service/desiredCount", 3, 2),))
    [change] = image_changes(plan)
    assert (change.container, change.old, change.new) == ("web", "web:1.4.2", "web:1.5.0")
    assert other_fields(plan) == ["service/desiredCount"]
