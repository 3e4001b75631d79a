"""textspotter.train."""
