"""Trajectory planners; ``PLANNERS`` lists them (imported lazily)."""

from pano.planning.base import PLANNERS, Observation, PlannedPath, Planner, create_planner

__all__ = ["PLANNERS", "Observation", "PlannedPath", "Planner", "create_planner"]
