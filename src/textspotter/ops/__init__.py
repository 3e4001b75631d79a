"""textspotter.ops."""
