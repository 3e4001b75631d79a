"""textspotter.evaluate."""
