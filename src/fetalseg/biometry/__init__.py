"""Fetal brain biometry (:mod:`fetalseg.biometry`)."""
