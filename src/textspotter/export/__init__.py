"""textspotter.export."""
