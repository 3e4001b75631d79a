"""textspotter.metrics."""
