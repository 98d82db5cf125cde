"""Head pose and the canonical frame of a fetal brain (:mod:`fetalseg.pose`).

:func:`estimate_pose` finds the mid-sagittal plane from the left-right symmetry of a FeTA label
map, then the anterior-posterior and superior-inferior axes, and returns a :class:`Pose`
(``world = origin + rotation @ u``, canonical ``u``: x left->right, y posterior->anterior,
z inferior->superior, mm); :func:`image_frame` finds the same axis lines from the image's own symmetry
(for label maps too poor to trust, e.g. a first pass on a brain lying on its side), :func:`half_turns` the
frames sharing them. :func:`to_canonical` / :func:`from_canonical` resample volumes into
and out of that frame; :func:`rotate_image` makes rotated copies for tests.
"""

from .estimate import BRAIN, CEREBRUM, estimate_pose
from .frame import Pose, canonical_grid, from_canonical, to_canonical
from .image_frame import half_turns, image_frame
from .rotate import rotate_image, rotation_matrix
from .symmetry import find_midsagittal, reflect

__all__ = ["Pose", "estimate_pose", "to_canonical", "from_canonical", "canonical_grid", "rotate_image",
           "rotation_matrix", "find_midsagittal", "reflect", "BRAIN", "CEREBRUM", "image_frame", "half_turns"]
