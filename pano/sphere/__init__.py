"""The sphere's conventions every stage shares: yaw/pitch and vectors, FOA math, the NFOV view-size rule."""
