"""What a run decides before any work: its context (handed to every plugin) and its output names."""
