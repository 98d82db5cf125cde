"""Dataset discovery (:mod:`fetalseg.datasets`): FeTA/BIDS datasets, and the one rule that turns the
files and folders a user names into NIfTI files (:func:`expand_inputs`)."""

from .bids import Dataset, Subject, discover, read_participants, subject_id
from .inputs import InputFile, expand_inputs, is_bids_folder, nifti_files

__all__ = ["Dataset", "Subject", "discover", "read_participants", "subject_id",
           "InputFile", "expand_inputs", "is_bids_folder", "nifti_files"]
