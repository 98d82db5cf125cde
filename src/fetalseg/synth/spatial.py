"""Step 1 (and the crop of step 11): random affine + diffeomorphic SVF deformation + flip, one resampling.

Coordinates: array index order (i, j, k) = (X, Y, Z) of ``[.., X, Y, Z]`` tensors, in voxels. The
transform maps an output voxel ``o`` to the input voxel

    p(o) = centre + t + A (o - c_out + u(o - c_out))

where ``A = R S (I + H)`` (rotation, scaling, shear), ``c_out`` is the output grid centre, ``centre`` the
brain centre in the input and ``u`` the displacement of ``exp(v)``, the diffeomorphism obtained from the
stationary velocity field ``v`` by scaling and squaring. The output is then optionally flipped along
the first axis (a re-indexing of the grid, not a second resampling). Labels and images are read
through the one grid with :func:`torch.nn.functional.grid_sample` (nearest for labels).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import random as R


def draw_spatial(cfg, g: torch.Generator) -> dict:
    """Draw the spatial parameters (JSON-able) from ``g`` following ``cfg`` (a SynthConfig)."""
    p: dict = {"affine": R.chance(g, cfg.p_affine), "elastic": R.chance(g, cfg.p_elastic),
               "flip": R.chance(g, cfg.p_flip)}
    if p["affine"]:
        p["rotation_deg"] = R.uniform(g, -cfg.rotation_deg, cfg.rotation_deg, 3)
        p["scaling"] = R.uniform(g, cfg.scaling[0], cfg.scaling[1], 3)
        p["shear"] = R.uniform(g, -cfg.shear, cfg.shear, 6)
        p["translation_vox"] = R.uniform(g, -cfg.translation_vox, cfg.translation_vox, 3)
    if p["elastic"]:
        p["svf_std"] = R.uniform(g, *cfg.svf_std)
        p["svf_grid"] = [max(2, math.ceil(s * cfg.svf_grid_fraction)) for s in cfg.output_shape]
        p["svf_steps"] = int(cfg.svf_steps)
        p["svf_seed"] = R.seed(g)
    return p


def affine_matrix(rotation_deg=(0, 0, 0), scaling=(1, 1, 1), shear=(0,) * 6) -> torch.Tensor:
    """The 3x3 float64 matrix ``R S (I + H)``; rotations about X, then Y, then Z (degrees)."""
    a = [math.radians(float(x)) for x in rotation_deg]
    c, s = [math.cos(x) for x in a], [math.sin(x) for x in a]
    rx = torch.tensor([[1, 0, 0], [0, c[0], -s[0]], [0, s[0], c[0]]], dtype=torch.float64)
    ry = torch.tensor([[c[1], 0, s[1]], [0, 1, 0], [-s[1], 0, c[1]]], dtype=torch.float64)
    rz = torch.tensor([[c[2], -s[2], 0], [s[2], c[2], 0], [0, 0, 1]], dtype=torch.float64)
    h = torch.eye(3, dtype=torch.float64)
    h[0, 1], h[0, 2], h[1, 0], h[1, 2], h[2, 0], h[2, 1] = (float(x) for x in shear)
    return rz @ ry @ rx @ torch.diag(torch.tensor([float(x) for x in scaling], dtype=torch.float64)) @ h


def identity_grid(shape, device, dtype=torch.float32) -> torch.Tensor:
    """Normalised identity grid ``[1, *shape, 3]`` in grid_sample's (W, H, D) component order."""
    theta = torch.eye(3, 4, dtype=dtype, device=device)[None]
    return F.affine_grid(theta, (1, 1, *shape), align_corners=True)


def integrate_svf(v: torch.Tensor, steps: int) -> torch.Tensor:
    """Scaling and squaring: displacement of exp(v).

    Parameters
    ----------
    v : Tensor [1, 3, a, b, c]
        Velocity in *normalised* units of the grid (component order matching grid_sample: W, H, D).
    steps : int
        Number of squarings (the field is divided by 2**steps first).

    Returns
    -------
    Tensor [1, 3, a, b, c]: the displacement u with phi(x) = x + u(x), same units.
    """
    u = v / (2.0 ** steps)
    ident = identity_grid(v.shape[2:], v.device, v.dtype)
    for _ in range(steps):
        grid = ident + u.permute(0, 2, 3, 4, 1)
        u = u + F.grid_sample(u, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return u


def svf_displacement(params: dict, out_shape, device, matrix: torch.Tensor | None = None,
                     upsample: bool = True) -> torch.Tensor | None:
    """Displacement ``M u`` of exp(v) on the output grid, ``[1, 3, *out_shape]`` (voxels, order i, j, k).

    The velocity is N(0, svf_std) output voxels on the coarse ``svf_grid``, upsampled to a working grid
    of a quarter of the output size, integrated there by scaling and squaring, optionally multiplied by
    the 3x3 ``matrix`` M (linear maps commute with trilinear interpolation) and upsampled to the output
    grid (``upsample=False`` returns it on the working grid). None when the elastic step is off.
    """
    if not params.get("elastic"):
        return None
    out_shape = tuple(int(s) for s in out_shape)
    gen = R.device_generator(params["svf_seed"], "cpu")
    v = torch.randn((1, 3, *params["svf_grid"]), generator=gen, dtype=torch.float32) * params["svf_std"]
    v = v.to(device)
    work = tuple(max(8, math.ceil(s / 4)) for s in out_shape)
    v = F.interpolate(v, size=work, mode="trilinear", align_corners=True)
    # voxels (i, j, k) -> normalised (W, H, D) order
    scale = torch.tensor([2.0 / (s - 1) for s in out_shape], device=device, dtype=torch.float32)
    vn = (v * scale.view(1, 3, 1, 1, 1)).flip(1)
    un = integrate_svf(vn, int(params["svf_steps"]))
    u = un.flip(1) / scale.view(1, 3, 1, 1, 1)
    if matrix is not None:
        u = torch.einsum("ij,bj...->bi...", matrix.to(device=device, dtype=torch.float32), u)
    if not upsample:
        return u
    return F.interpolate(u, size=out_shape, mode="trilinear", align_corners=True)


def _affine(params: dict, centre) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, centre + t), float64: input voxel = A (o - c_out) + centre + t."""
    if params.get("affine"):
        a = affine_matrix(params["rotation_deg"], params["scaling"], params["shear"])
        t = torch.tensor(params["translation_vox"], dtype=torch.float64)
    else:
        a, t = torch.eye(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    return a, torch.as_tensor(centre, dtype=torch.float64) + t


def deformation(params: dict, out_shape, centre, device) -> torch.Tensor:
    """Input voxel coordinates (i, j, k) of every output voxel, float32 ``[*out_shape, 3]`` (no flip).

    ``centre`` (3 floats) is the input point that the output grid centre maps to before translation.
    This is the map that :func:`sampling_grid` encodes (for tests and inspection; it is not used by
    the generator, which builds the normalised grid directly).
    """
    out_shape = tuple(int(s) for s in out_shape)
    a, b = _affine(params, centre)
    c_out = torch.tensor([(s - 1) / 2 for s in out_shape], dtype=torch.float64)
    axes = [torch.arange(s, device=device, dtype=torch.float32) for s in out_shape]
    o = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1) - c_out.to(device, torch.float32)
    u = svf_displacement(params, out_shape, device)
    if u is not None:
        o = o + u[0].permute(1, 2, 3, 0)
    return o @ a.to(device, torch.float32).T + b.to(device, torch.float32)


def sampling_grid(params: dict, in_shape, out_shape, centre, device) -> torch.Tensor:
    """The grid_sample grid ``[1, *out_shape, 3]`` of :func:`deformation` (without the flip).

    The flip (``params['flip']``) is applied by :func:`warp` to the resampled volumes, which is the
    same as flipping the grid along its first axis and cheaper.

    The affine part is built by broadcasting three 1-D coordinate vectors; the displacement, already
    multiplied by the normalised affine, is added on the SVF working grid before one trilinear
    upsampling of the whole grid.
    """
    out_shape = tuple(int(s) for s in out_shape)
    a, b = _affine(params, centre)
    d_in = torch.diag(torch.tensor([2.0 / max(s - 1, 1) for s in in_shape], dtype=torch.float64))
    half_out = torch.diag(torch.tensor([(s - 1) / 2 for s in out_shape], dtype=torch.float64))
    lin = d_in @ a @ half_out  # normalised out -> normalised in, (i, j, k) order
    trans = d_in @ b - 1.0
    # component planes (input axis order i, j, k) = trans + lin @ normalised output coordinate (+ M u).
    # With a displacement, the planes are built on the SVF's working grid and upsampled once: trilinear
    # interpolation reproduces the affine part exactly, so this equals upsampling u alone.
    u = svf_displacement(params, out_shape, device, matrix=d_in @ a, upsample=False)
    shape = out_shape if u is None else tuple(u.shape[2:])
    lin32, trans32 = lin.to(device, torch.float32), trans.to(device, torch.float32)
    norm_axes = [torch.linspace(-1.0, 1.0, s, device=device) for s in shape]
    views = [norm_axes[0].view(-1, 1, 1), norm_axes[1].view(1, -1, 1), norm_axes[2].view(1, 1, -1)]
    planes = torch.empty((1, 3, *shape), device=device, dtype=torch.float32)
    for comp in range(3):
        g = views[0] * lin32[comp, 0] + trans32[comp]
        g = g + views[1] * lin32[comp, 1]
        if u is None:
            torch.add(g, views[2] * lin32[comp, 2], out=planes[0, 2 - comp])
        else:
            torch.add(u[0, comp], g + views[2] * lin32[comp, 2], out=planes[0, 2 - comp])
    if u is not None:
        planes = F.interpolate(planes, size=out_shape, mode="trilinear", align_corners=True)
    return planes[0].permute(1, 2, 3, 0)[None]


def to_grid(coords: torch.Tensor, in_shape, flip: bool = False) -> torch.Tensor:
    """Voxel coordinates ``[*out, 3]`` -> grid_sample grid ``[1, *out, 3]`` (normalised, W-H-D order)."""
    scale = torch.tensor([2.0 / max(s - 1, 1) for s in in_shape], device=coords.device, dtype=coords.dtype)
    grid = (coords * scale - 1.0).flip(-1)
    if flip:
        grid = grid.flip(0)
    return grid[None]


def warp(grid: torch.Tensor, labels: torch.Tensor, image: torch.Tensor | None = None, flip: bool = False,
         label_mode: str = "nearest"):
    """Resample ``labels`` [X, Y, Z] (0 outside) and optional ``image`` [C, X, Y, Z] (linear).

    ``label_mode`` 'nearest' reads the label values with nearest-neighbour interpolation; 'linear'
    resamples the one-hot mask of every value present linearly and keeps the value with the largest
    weight (ties to the smaller value). ``flip`` mirrors the results along the first axis
    (equivalent to flipping the grid). Returns (labels int64 [*grid], image float32 [C, *grid] or None).
    """
    if label_mode == "linear":
        lab = _warp_onehot(grid, labels)
    else:
        lab = F.grid_sample(labels[None, None].float(), grid, mode="nearest", padding_mode="zeros",
                            align_corners=True)[0, 0].round().long()
    img = None
    if image is not None:
        img = F.grid_sample(image[None].float(), grid, mode="bilinear", padding_mode="zeros", align_corners=True)[0]
    if flip:
        lab = lab.flip(0)
        img = None if img is None else img.flip(1)
    return lab, img


def _warp_onehot(grid: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """One-hot linear label resampling with a running argmax (memory: three output-sized tensors).

    Background's weight is one minus the sum of the others (zero padding outside the input makes it 1).
    """
    values = torch.nonzero(torch.bincount(labels.reshape(-1).long()))[:, 0].tolist()
    shape = grid.shape[1:4]
    best = torch.zeros(shape, device=grid.device, dtype=torch.long)
    score = torch.zeros(shape, device=grid.device)
    total = torch.zeros(shape, device=grid.device)
    for v in values:
        if v == 0:
            continue
        w = F.grid_sample((labels == v)[None, None].float(), grid, mode="bilinear", padding_mode="zeros",
                          align_corners=True)[0, 0]
        take = w > score
        best[take] = v
        score = torch.maximum(score, w)
        total += w
    best[(1.0 - total) >= score] = 0
    return best


def jacobian_determinant(coords: torch.Tensor) -> torch.Tensor:
    """Determinant of the Jacobian of a coordinate map ``[X, Y, Z, 3]`` by central differences.

    Returns ``[X-2, Y-2, Z-2]`` (interior voxels), float64.
    """
    c = coords.double()
    d0 = (c[2:, 1:-1, 1:-1] - c[:-2, 1:-1, 1:-1]) / 2
    d1 = (c[1:-1, 2:, 1:-1] - c[1:-1, :-2, 1:-1]) / 2
    d2 = (c[1:-1, 1:-1, 2:] - c[1:-1, 1:-1, :-2]) / 2
    jac = torch.stack([d0, d1, d2], dim=-1)  # [..., component, derivative]
    return torch.linalg.det(jac)
