"""NIfTI input/output, reorientation and resampling (:mod:`fetalseg.io`)."""

from .atomic import atomic_path, check_writable, write_bytes, write_text
from .image import Image
from .intensity import normalise_percentile
from .nifti import is_nifti_path, load_image, load_labels, save_image
from .orient import from_ras, orientation_code, to_ras
from .resample import grid_with_spacing, resample, resample_image, resample_labels, voxel_map

__all__ = [
    "Image", "normalise_percentile", "load_image", "load_labels", "save_image", "is_nifti_path",
    "atomic_path", "check_writable", "write_text", "write_bytes",
    "to_ras", "from_ras", "orientation_code",
    "resample", "resample_labels", "resample_image", "grid_with_spacing", "voxel_map",
]
