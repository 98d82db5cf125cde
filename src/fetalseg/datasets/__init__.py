"""Dataset discovery (:mod:`fetalseg.datasets`)."""

from .bids import Dataset, Subject, discover, read_participants, subject_id

__all__ = ["Dataset", "Subject", "discover", "read_participants", "subject_id"]
