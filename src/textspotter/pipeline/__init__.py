"""textspotter.pipeline."""
