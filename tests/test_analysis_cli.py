"""`fetalseg analyze` through the real entry point: a good run and bad input (one line, exit 2, nothing written)."""

from __future__ import annotations

import pytest

from badinput import assert_clean_error
from test_analysis import make_cohort


def test_analyze_runs_and_reports(cli, tmp_path):
    m, p = make_cohort(tmp_path / "in", "quality", n=16)
    out = tmp_path / "out"
    code, stdout, err = cli("analyze", m, p, "-o", out, "--metrics", "dice", "--factors", "quality,site",
                            "--mean-only", "--trees", "30")
    assert code == 0, err
    assert "top factor Quality" in stdout
    assert sorted(f.name for f in out.iterdir()) == ["beeswarm_dice.png", "cases.csv", "dependence_dice.png",
                                                      "shap_importance.csv", "summary.md"]
    code, _, err = cli("analyze", m, p, "-o", out, "--metrics", "dice")
    assert_clean_error(code, "", err, out / "shap_importance.csv", "--overwrite")


def _bad_metrics(tmp_path, m, p):
    bad = tmp_path / "bad.csv"
    bad.write_text("subject,label,dice\nsub-001,1,0.8\n")
    return (bad, p), bad, "missing columns"


def _no_match(tmp_path, m, p):
    other = tmp_path / "other.tsv"
    other.write_text("participant_id\tGestational age\tPathology\tQuality\nsub-900\t30\tNeurotypical\t2\n"
                     "sub-901\t31\tNeurotypical\t3\n")
    return (m, other), other, "no participant matches a subject"


def _constant(tmp_path, m, p):
    lines = p.read_text().splitlines()
    const = tmp_path / "const.tsv"
    const.write_text("\n".join([lines[0]] + [ln.rsplit("\t", 2)[0] + "\tsiteA\t" + ln.rsplit("\t", 1)[1]
                                              for ln in lines[1:]]) + "\n")
    return (m, const), const, "factor 'Site' is constant ('siteA')"


def _unknown_factor(tmp_path, m, p):
    return (m, p, "--factors", "quality,scanner"), p, "no column for factor 'scanner' in --factors"


@pytest.mark.parametrize("make", [_bad_metrics, _no_match, _constant, _unknown_factor])
def test_bad_input_one_line_exit_2_nothing_written(cli, tmp_path, make):
    m, p = make_cohort(tmp_path / "in", "site", n=8)
    args, path, phrase = make(tmp_path, m, p)
    out = tmp_path / "out"
    code, stdout, err = cli("analyze", *args, "-o", out)
    assert_clean_error(code, stdout, err, path, phrase)
    assert not out.exists()


def test_unknown_metric(cli, tmp_path):
    m, p = make_cohort(tmp_path / "in", "site", n=8)
    code, _, err = cli("analyze", m, p, "-o", tmp_path / "out", "--metrics", "dice,auc")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "unknown metric 'auc' in --metrics" in lines[0]
    assert not (tmp_path / "out").exists()
