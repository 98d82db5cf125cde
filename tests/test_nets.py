"""Network builder and model files: shapes, deep supervision, padding, save/load round trip, sha256 check."""

from __future__ import annotations

import json

import pytest
import torch

from fetalseg.errors import InputError
from fetalseg.nets import PRESETS, NetConfig, build_network, load_model, save_model, sha256_file


def test_tiny_training_outputs_one_head_per_level():
    torch.manual_seed(0)
    net = build_network("tiny").train()
    out = net(torch.randn(2, 1, 32, 32, 32))
    assert isinstance(out, list) and len(out) == 1 + PRESETS["tiny"]["deep_supervision"]
    assert all(o.shape == (2, 8, 32, 32, 32) for o in out)


def test_architecture_matches_spec():
    from torch import nn

    net = build_network({"preset": "tiny", "deep_supervision": 1})
    cfg = net.config
    assert cfg.features == [8, 16, 32]
    mods = list(net.modules())
    convs = [m for m in mods if isinstance(m, nn.Conv3d)]
    # strided convolutions do the down-sampling: one per level below the top
    assert sum(1 for m in convs if m.stride == (2, 2, 2)) >= cfg.levels - 1
    assert sum(1 for m in mods if isinstance(m, nn.ConvTranspose3d)) == cfg.levels - 1
    assert any(isinstance(m, nn.InstanceNorm3d) for m in mods)
    assert any(isinstance(m, nn.LeakyReLU) for m in mods)
    # residual blocks have a 1x1x1 projection where the feature count changes
    assert any(m.kernel_size == (1, 1, 1) and m.in_channels != m.out_channels and m.out_channels != 8 for m in convs)


def test_eval_pads_any_size_and_matches_padded_input():
    torch.manual_seed(1)
    net = build_network("tiny").eval()
    x = torch.randn(1, 1, 13, 18, 9)
    with torch.no_grad():
        y = net(x)
        assert y.shape == (1, 8, 13, 18, 9)
        xp = torch.nn.functional.pad(x, (0, 3, 0, 2, 0, 3))  # to 16 x 20 x 12 (multiples of 4)
        yp = net(xp)[:, :, :13, :18, :9]
    assert torch.allclose(y, yp, atol=1e-6)


def test_training_rejects_bad_patch_sides():
    net = build_network("tiny").train()
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.randn(1, 1, 30, 32, 32))


@pytest.mark.parametrize("bad", [{"levels": 1}, {"deep_supervision": 5}, {"preset": "huge"}, {"depth": 3},
                                 {"base_features": 64, "max_features": 32}])
def test_bad_configs_raise(bad):
    with pytest.raises(ValueError):
        NetConfig.from_dict(bad)


def test_save_load_roundtrip_without_pickle(tmp_path, monkeypatch):
    torch.manual_seed(2)
    net = build_network({"preset": "tiny", "base_features": 4, "max_features": 16})
    path = tmp_path / "m.safetensors"
    card = save_model(net, {"patch_size": [32, 32, 32], "steps": 3}, path)
    assert (tmp_path / "m.json").exists()
    on_disk = json.loads((tmp_path / "m.json").read_text())
    assert on_disk == card and on_disk["sha256"] == sha256_file(path)
    assert on_disk["labels"]["0"] == "background" and len(on_disk["labels"]) == 8
    assert on_disk["network"]["base_features"] == 4 and on_disk["resolution_mm"] == 0.8

    # loading must not unpickle anything
    import pickle

    def no_pickle(*a, **k):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    monkeypatch.setattr(torch, "load", no_pickle)
    loaded, card2 = load_model(path)
    assert not loaded.training and card2["steps"] == 3
    for (k1, v1), (k2, v2) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    x = torch.randn(1, 1, 20, 16, 12)
    with torch.no_grad():
        assert torch.equal(net.eval()(x), loaded(x))


def test_load_detects_tampering_and_missing(tmp_path):
    net = build_network("tiny")
    path = tmp_path / "m.safetensors"
    save_model(net, {}, path)
    with pytest.raises(InputError, match="already exists"):
        save_model(net, {}, path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="sha256"):
        load_model(path)
    with pytest.raises(InputError, match="not found"):
        load_model(tmp_path / "nope.safetensors")
    with pytest.raises(InputError, match=".safetensors"):
        save_model(net, {}, tmp_path / "m.pt")
