"""textspotter.data."""
