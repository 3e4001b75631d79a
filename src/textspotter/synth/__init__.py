"""textspotter.synth."""
