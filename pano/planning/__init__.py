"""Trajectory planners; importing this package registers the built-in ones."""

from pano.planning import autocam, centroid  # noqa: F401 - registers "autocam" and "centroid"
from pano.planning.base import PLANNERS, Observation, PlannedPath, Planner, create_planner, register_planner

__all__ = ["PLANNERS", "Observation", "PlannedPath", "Planner", "create_planner", "register_planner"]
