"""The probability DAE: network contract, model files, train-dae run folder, and that training lowers ED."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fetalseg.errors import InputError
from fetalseg.nets.dae import DAE, DaeConfig, load_dae, n_parameters, refine, save_dae
from fetalseg.train.dae_corrupt import corrupt, soften
from fetalseg.train.dae_data import DaeTrainConfig
from fetalseg.train.dae_loop import export_dae, topology_ed, train_dae
from test_topofix import _fetal_like


def test_untrained_dae_keeps_the_argmax_and_has_about_145k_parameters():
    net = DAE()
    assert 120_000 <= n_parameters(net) <= 170_000
    p = torch.softmax(torch.randn(1, 8, 13, 18, 11) * 3, dim=1)  # odd sizes: padded inside
    out = net(p)
    assert out.shape == p.shape
    assert torch.equal(out.argmax(1), p.argmax(1))
    with pytest.raises(ValueError, match="probs"):
        net(p[:, :4])


def test_save_load_round_trip_and_digest(tmp_path):
    net = DAE(DaeConfig(8, (4, 8, 8)))
    torch.nn.init.normal_(net.head.weight, std=0.1)
    card = save_dae(net, {"note": "test"}, tmp_path / "d.safetensors")
    assert card["kind"] == "dae" and card["parameters"] == n_parameters(net)
    back, card2 = load_dae(tmp_path / "d.safetensors")
    p = np.random.default_rng(0).dirichlet(np.ones(8), size=(9, 10, 8)).transpose(3, 0, 1, 2).astype(np.float32)
    np.testing.assert_allclose(refine(back, p), refine(net, p), atol=1e-6)
    assert card2["sha256"] == card["sha256"]
    with pytest.raises(InputError, match="exists"):
        save_dae(net, {}, tmp_path / "d.safetensors")
    (tmp_path / "d.safetensors").write_bytes(b"x" + (tmp_path / "d.safetensors").read_bytes()[1:])
    with pytest.raises(InputError, match="sha256"):
        load_dae(tmp_path / "d.safetensors")
    seg_card = tmp_path / "m.json"
    seg_card.write_text(json.dumps({"sha256": "0"}))
    (tmp_path / "m.safetensors").write_bytes(b"")
    with pytest.raises(InputError, match="not a DAE"):
        load_dae(tmp_path / "m.safetensors")


def _tiny_cfg(**kw) -> DaeTrainConfig:
    d = {"phantoms": 1, "resolution_mm": 2.0, "patch": 16, "batch": 1, "steps": 2, "val_every": 2,
         "val_patches": 1, "checkpoint_every": 1, "widths": [4, 8, 8], "n_corruptions": [1, 2]}
    d.update(kw)
    return DaeTrainConfig.from_dict(d)


@pytest.mark.slow
def test_train_dae_run_folder_resume_and_export(tmp_path):
    once = train_dae(_tiny_cfg(steps=3), tmp_path / "a")
    train_dae(_tiny_cfg(steps=2), tmp_path / "b")
    resumed = train_dae(_tiny_cfg(steps=3), tmp_path / "b", resume=True)
    log_a = (tmp_path / "a" / "log.csv").read_text().splitlines()
    log_b = (tmp_path / "b" / "log.csv").read_text().splitlines()
    assert [r.split(",")[1] for r in log_a] == [r.split(",")[1] for r in log_b]  # same losses after resume
    assert once["last_val"]["dice"] == resumed["last_val"]["dice"]
    for name in ("config.yaml", "curve.png", "summary.json", "checkpoints/last.pt", "checkpoints/best.pt"):
        assert (tmp_path / "a" / name).is_file()
    with pytest.raises(InputError, match="already holds"):
        train_dae(_tiny_cfg(), tmp_path / "a")
    card = export_dae(tmp_path / "a", tmp_path / "dae.safetensors", which="last")
    assert card["steps"] == 3 and card["training"]["phantoms"] == 1
    net, _ = load_dae(tmp_path / "dae.safetensors")
    assert net.config.widths == (4, 8, 8)


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(InputError, match="unknown config key"):
        DaeTrainConfig.from_dict({"stepz": 3})
    with pytest.raises(InputError, match="corruptions"):
        DaeTrainConfig.from_dict({"corruptions": ["melt"]})
    with pytest.raises(InputError, match="patch"):
        DaeTrainConfig.from_dict({"patch": 20})
    bad = tmp_path / "c.yaml"
    bad.write_text("steps: [\n")
    with pytest.raises(InputError) as err:
        DaeTrainConfig.from_yaml(bad)
    assert str(err.value.path) == str(bad)


def test_cli_train_dae_bad_config_is_one_line(cli, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("widths: [1, 2]\n")
    code, _, err = cli("train-dae", str(cfg), "-o", str(tmp_path / "run"))
    assert code == 2 and "widths" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
    code, _, err = cli("export-dae", str(tmp_path / "nope"), "-o", str(tmp_path / "x.safetensors"))
    assert code == 2 and "not found" in err


@pytest.mark.slow
def test_a_few_steps_of_training_lower_ed_on_a_corrupted_map():
    torch.manual_seed(0)
    clean = _fetal_like(24)
    kinds = ["island", "cavity"]

    def pair(rng):
        return soften(corrupt(clean, rng, (2, 4), kinds), rng, noise=(0.0, 0.05)), clean.astype(np.int64)

    net = DAE(DaeConfig(8, (8, 16, 16)))
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    for step in range(60):
        probs, target = pair(np.random.default_rng(step))
        loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(probs)[None]), torch.from_numpy(target)[None])
        opt.zero_grad()
        loss.backward()
        opt.step()
    rng = np.random.default_rng(1000)
    before, after = [], []
    for _ in range(5):
        probs, _ = pair(rng)
        before.append(topology_ed(np.argmax(probs, axis=0).astype(np.uint8)))
        after.append(topology_ed(np.argmax(refine(net, probs), axis=0).astype(np.uint8)))
    assert np.mean(after) < np.mean(before), (before, after)
