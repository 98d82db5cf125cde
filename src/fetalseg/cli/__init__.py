"""Command-line interface (:mod:`fetalseg.cli`)."""
