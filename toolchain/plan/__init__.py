"""The plan step: kernel variant and weight layout per layer, packed const tables, static arena."""

from .planner import make_plan
from .report import format_plan, plan_to_json
from .types import Buffer, ConstArray, LayerPlan, Plan

__all__ = ["Buffer", "ConstArray", "LayerPlan", "Plan", "format_plan", "make_plan", "plan_to_json"]
