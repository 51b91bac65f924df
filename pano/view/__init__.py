"""``pano-pan view``: watch and edit a planned camera path in the browser, over the original 360° video.

A small loopback web app (``server``) serves one job (``job``): the source video with range requests,
the trajectory, the yaw × time saliency strip (``strip``) and, for FOA sources, the view-following
stereo (``audio``). Keyframe edits are re-planned in Python (``edit``) under the planner's own speed
and acceleration limits, so the page, Save and Render all see the same path.
"""
