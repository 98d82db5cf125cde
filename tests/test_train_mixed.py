"""Issue 11 training pieces: label-centred crops, augmented real images (source: mixed), warm start, warm-up."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fetalseg.errors import InputError
from fetalseg.synth import SynthConfig, SynthGenerator
from fetalseg.synth.generator import draw_label_centre
from fetalseg.synth.real import apply_real, draw_real
from train_helpers import tiny_config, write_nifti


def _far_label_map() -> torch.Tensor:
    """A 64^3 map: a big brain block (WM) and a small brainstem cube far from the brain centre."""
    lab = torch.zeros((64, 64, 64), dtype=torch.long)
    lab[10:50, 10:50, 10:50] = 3
    lab[58:62, 58:62, 58:62] = 7
    return lab


def test_label_centre_draws_voxels_of_each_label_uniformly():
    lab = _far_label_map()
    g = torch.Generator().manual_seed(0)
    picks = [draw_label_centre(lab, g, 1.0) for _ in range(400)]
    on_7 = [p for p in picks if lab[tuple(int(x) for x in p)] == 7]
    on_3 = [p for p in picks if lab[tuple(int(x) for x in p)] == 3]
    assert len(on_7) + len(on_3) == 400  # always a voxel of a present label
    assert 0.4 < len(on_7) / 400 < 0.6  # labels drawn uniformly, not by size (the cube is 1/1000 of the block)
    assert draw_label_centre(lab, torch.Generator().manual_seed(0), 0.0) is None
    assert draw_label_centre(torch.zeros((8, 8, 8), dtype=torch.long), g, 1.0) is None


def test_label_centred_crop_holds_a_label_the_brain_centred_crop_misses():
    lab = _far_label_map()
    off = SynthConfig.all_off(output_shape=(16, 16, 16))
    on = SynthConfig.all_off(output_shape=(16, 16, 16), p_label_centre=1.0)
    b_off = SynthGenerator(off).sample([lab], torch.Generator().manual_seed(1))
    assert int((b_off.target == 7).sum()) == 0  # the brain-centred 16^3 crop never reaches the cube
    seen = 0
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        seen += int((SynthGenerator(on).sample([lab], g).target == 7).sum() > 0)
    assert 5 <= seen <= 15  # about half the crops are centred on the cube


def test_label_centre_off_keeps_the_random_stream():
    lab = _far_label_map()
    a = SynthGenerator(SynthConfig(output_shape=(24, 24, 24))).sample([lab], torch.Generator().manual_seed(5))
    b = SynthGenerator(SynthConfig(output_shape=(24, 24, 24), p_label_centre=0.0)).sample(
        [lab], torch.Generator().manual_seed(5))
    assert torch.equal(a.image, b.image) and a.params[0] == b.params[0]


def test_real_image_without_augmentation_is_the_cropped_normalised_image():
    lab = _far_label_map()
    img = torch.rand((64, 64, 64), generator=torch.Generator().manual_seed(2))
    cfg = SynthConfig.all_off(output_shape=(32, 32, 32))
    p = draw_real(cfg, lab, torch.Generator().manual_seed(0), 0.8)
    x, out_lab = apply_real(cfg, lab, img, p)
    # no affine, no elastic, no flip: the output grid is the input around the brain's bounding-box centre,
    # 10..61 -> 35.5, so output voxel o reads input voxel o + 20
    crop = img[20:52, 20:52, 20:52]
    want = (crop - crop.min()) / (crop.max() - crop.min())
    assert torch.allclose(x, want, atol=1e-5)
    assert torch.equal(out_lab.long(), lab[20:52, 20:52, 20:52])


def test_real_augmentation_is_seeded_and_changes_intensity_only():
    lab = _far_label_map()
    img = lab.float() / 7 + 0.05 * torch.rand((64, 64, 64), generator=torch.Generator().manual_seed(2))
    cfg = SynthConfig(output_shape=(32, 32, 32), p_bias=1.0, p_gamma=1.0, p_noise=1.0)
    p1 = draw_real(cfg, lab, torch.Generator().manual_seed(9), 0.8)
    p2 = draw_real(cfg, lab, torch.Generator().manual_seed(9), 0.8)
    assert p1 == p2
    x1, l1 = apply_real(cfg, lab, img, p1)
    x2, l2 = apply_real(cfg, lab, img, p2)
    assert torch.equal(x1, x2) and torch.equal(l1, l2)
    assert float(x1.min()) >= 0 and float(x1.max()) <= 1
    # the warped label map is unchanged by the intensity steps: the same map as with them off
    _, l_off = apply_real(SynthConfig.all_off(output_shape=(32, 32, 32), p_affine=1.0, p_elastic=1.0), lab, img,
                          {**p1, "bias": {"on": False}, "gamma": {"on": False, "gamma": 1.0},
                           "resolution": {"on": False}, "noise": {"on": False}})
    assert torch.equal(l1, l_off)


def _with_images(root):
    """Turn the tiny config's flat label maps into a BIDS folder with a T2w beside each dseg."""
    from train_helpers import PHANTOM_T2

    import nibabel as nib

    bids = root / "bids"
    for i, f in enumerate(sorted((root / "maps").glob("*.nii.gz"))):
        lab = np.asarray(nib.load(str(f)).dataobj).astype(np.uint8)
        sid = f"sub-m{i}"
        write_nifti(bids / sid / "anat" / f"{sid}_rec-x_dseg.nii.gz", lab)
        write_nifti(bids / sid / "anat" / f"{sid}_rec-x_T2w.nii.gz", PHANTOM_T2[lab])
    return bids


def test_mixed_source_draws_real_and_synthetic_samples(tmp_path):
    from fetalseg.train import TrainConfig
    from fetalseg.train.data import SynthSource

    import yaml

    cfg_path = tiny_config(tmp_path, steps=2)
    raw = yaml.safe_load(cfg_path.read_text())
    raw["datasets"] = [{"name": "m", "paths": [str(_with_images(tmp_path))], "convention": "feta", "images": True}]
    raw.update(source="mixed", real_fraction=0.5)
    cfg = TrainConfig.from_dict(raw)
    src = SynthSource.from_config(cfg)
    assert all(im is not None for im in src.images[0])
    img_a, tgt_a = src.next_batch(0)
    img_b, tgt_b = src.next_batch(0)
    assert torch.equal(img_a, img_b) and torch.equal(tgt_a, tgt_b)  # a pure function of (seed, rank, step)
    assert img_a.shape == (1, 1, 32, 32, 32) and tgt_a.shape == (1, 32, 32, 32)
    raw.update(real_fraction=1.0)
    real = SynthSource.from_config(TrainConfig.from_dict(raw))
    x, t = real.next_batch(3)
    # a real sample's intensities follow its labels (PHANTOM_T2 ordering survives bias/gamma/noise on average)
    means = {v: float(x[0, 0][t[0] == v].mean()) for v in (2, 3, 4) if bool((t[0] == v).any())}
    assert set(means) == {2, 3, 4}, means  # the crop holds all three (checked, so the comparison always runs)
    assert means[4] > means[2]


def test_mixed_source_needs_images(tmp_path):
    import yaml

    from fetalseg.train import TrainConfig

    raw = yaml.safe_load(tiny_config(tmp_path, steps=2).read_text())
    raw.update(source="mixed")
    with pytest.raises((InputError, ValueError), match="images"):
        TrainConfig.from_dict(raw)


def test_poly_decay_with_warmup():
    from fetalseg.train.loop import PolyDecay

    f = PolyDecay(100, 0.9, warmup=10)
    assert f(0) == pytest.approx(0.1 * 1.0)
    assert f(4) == pytest.approx(0.5 * (1 - 4 / 100) ** 0.9)
    assert f(50) == pytest.approx((1 - 50 / 100) ** 0.9)
    assert PolyDecay(100, 0.9)(0) == pytest.approx(1.0)


def test_init_from_copies_weights_and_checks_the_network(tmp_path):
    from fetalseg.nets import build_network, save_model
    from fetalseg.train.loop import load_initial_weights

    torch.manual_seed(4)
    src = build_network("tiny")
    path = tmp_path / "m.safetensors"
    save_model(src, {"name": "m", "resolution_mm": 0.8}, path, network=src.config)
    dst = build_network("tiny")
    load_initial_weights(dst, path, {"preset": "tiny"})
    for (k, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        assert torch.equal(a, b), k
    with pytest.raises(InputError, match="differs"):
        load_initial_weights(build_network({"preset": "tiny", "base_features": 4}), path,
                             {"preset": "tiny", "base_features": 4})


def test_half_precision_model_file_loads_as_float32_close_to_the_original(tmp_path):
    from fetalseg.nets import build_network, load_model, save_model

    torch.manual_seed(5)
    net = build_network("tiny").eval()
    path = tmp_path / "h.safetensors"
    card = save_model(net, {"name": "h"}, path, network=net.config, dtype="float16")
    full = tmp_path / "f.safetensors"
    save_model(net, {"name": "f"}, full, network=net.config)
    assert card["weights_dtype"] == "float16" and path.stat().st_size < 0.6 * full.stat().st_size
    loaded, _ = load_model(path)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    x = torch.rand((1, 1, 16, 16, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = net(x), loaded(x)
    assert float((a - b).abs().max()) < 1e-2 * float(a.abs().max())


def test_subclasses_reach_the_training_pools(tmp_path):
    """``datasets[].subclasses``: each map is split into intensity sub-classes at load (parents unchanged); with
    ``subclass_images`` by k-means on the T2w beside it, so a sub-class follows the image's intensity."""
    import nibabel as nib
    import yaml

    from fetalseg.synth import STRIDE
    from fetalseg.train import TrainConfig
    from fetalseg.train.data import SynthSource

    cfg_path = tiny_config(tmp_path, steps=2)
    bids = _with_images(tmp_path)
    for t2 in bids.glob("sub-*/anat/*_T2w.nii.gz"):  # intensity rising along x inside every label
        img = nib.load(str(t2))
        data = np.asarray(img.dataobj, np.float32)
        data = data + np.linspace(0.0, 60.0, data.shape[0], dtype=np.float32)[:, None, None] * (data > 0)
        nib.save(nib.Nifti1Image(data, img.affine), str(t2))
    raw = yaml.safe_load(cfg_path.read_text())
    base = {"name": "m", "paths": [str(bids)], "convention": "feta"}

    def pools(**spec):
        raw["datasets"] = [{**base, **spec}]
        return [p.numpy().astype(int) for p in SynthSource.from_config(TrainConfig.from_dict(raw)).pools[0]]

    plain, by_image, smooth = pools(), pools(subclasses=3), pools(subclasses=3, subclass_images=False)
    for a, b, c in zip(plain, by_image, smooth):
        np.testing.assert_array_equal(b % STRIDE, a)
        np.testing.assert_array_equal(c % STRIDE, a)
    assert any((b >= STRIDE).any() for b in by_image) and any((c >= STRIDE).any() for c in smooth)
    # subclasses: 3 reaches make_subclasses as n_max (its default is 6): sub-class indices 0..2 only
    assert all(int(b.max()) // STRIDE <= 2 and int(c.max()) // STRIDE <= 2 for b, c in zip(by_image, smooth))
    ordered = 0
    for a, b in zip(plain, by_image):
        x = np.arange(a.shape[0])[:, None, None] * np.ones_like(a)
        for parent in (2, 3, 4):
            ks = sorted({int(v) // STRIDE for v in np.unique(b[a == parent])})
            if len(ks) > 1:  # k-means by intensity = by x here: sub-class centres move along x in order
                xs = [float(x[b == parent + STRIDE * k].mean()) for k in ks]
                assert xs == sorted(xs), (parent, xs)
                ordered += 1
    assert ordered > 0
    with pytest.raises(InputError, match="subclasses"):
        pools(subclasses=7)
