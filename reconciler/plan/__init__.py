"""Turn desired state and live state into actions per service. Pure."""
from reconciler.plan.build import build_plan, changed_services
from reconciler.plan.model import Action, Plan, ServicePlan
from reconciler.plan.render import render_plan_json, render_plan_text

__all__ = ["Action", "Plan", "ServicePlan", "build_plan", "changed_services", "render_plan_json", "render_plan_text"]
