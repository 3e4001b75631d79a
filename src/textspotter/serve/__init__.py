"""textspotter.serve."""
