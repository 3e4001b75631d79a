"""textspotter.models."""
