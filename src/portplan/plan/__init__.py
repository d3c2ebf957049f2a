"""The concrete flow matrix of a deployment: who must reach whom, on what, and why.

:func:`build_plan` expands a deployment and its products into :class:`PlannedFlow` rows, one
per (flow leg, source host, destination host, protocol), with the :class:`Decision` behind
every product flow.  This package reads models only, never files.
"""

from portplan.plan._digest import plan_digest
from portplan.plan._expand import PlanInput, build_plan, reference
from portplan.plan._legs import HostEnd, Leg, LegEnd, PlanRows, SourceEnd, legs_of, plan_legs
from portplan.plan._types import (
    ANYWHERE,
    ANYWHERE_HOST,
    LOOPBACK,
    MANAGEMENT,
    Decision,
    FlowFacts,
    ForbiddenFlow,
    Hop,
    Plan,
    PlannedFlow,
)

__all__ = [
    "ANYWHERE",
    "ANYWHERE_HOST",
    "LOOPBACK",
    "MANAGEMENT",
    "Decision",
    "FlowFacts",
    "ForbiddenFlow",
    "Hop",
    "HostEnd",
    "Leg",
    "LegEnd",
    "Plan",
    "PlanInput",
    "PlanRows",
    "PlannedFlow",
    "SourceEnd",
    "build_plan",
    "legs_of",
    "plan_digest",
    "plan_legs",
    "reference",
]
