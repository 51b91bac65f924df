"""The camera path on file: the trajectory contract (JSON and CSV), exporters, the plot, comparison."""
