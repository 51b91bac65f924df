"""FOA 360° videos as training data for the network, and held-out scoring of mono localizers."""
