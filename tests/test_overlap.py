"""No output folder over the results: `lrperf report`, `lrperf study` and build_report
refuse an output that is, lies inside or holds the results folder."""
import hashlib
import os
import shutil

import pytest

from lrperf import cli, study
from lrperf.overlap import overlaps
from lrperf.report import build_report

from test_report import FIXTURE
from test_study import _never, checkout  # noqa: F401  (a stand-in checkout)


def _hashes(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def results(tmp_path):
    dst = tmp_path / "data" / "results"
    shutil.copytree(FIXTURE, dst)
    return dst


def _outs(results):
    link = results.parent / "link"
    os.symlink(results, link)
    return {"the same": results, "inside": results / "vm" / "report",
            "holding": results.parent, "a link to it": link}


@pytest.mark.parametrize("case", ["the same", "inside", "holding", "a link to it"])
def test_report_refuses_an_out_over_its_results_and_keeps_them_byte_for_byte(
        results, capsys, case):
    before = _hashes(results)
    out = _outs(results)[case]
    code = cli.main(["report", "--results", str(results), "--out", str(out), "--no-figures"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("lrperf report: error: --out") and "--results" in err
    assert _hashes(results) == before


@pytest.mark.parametrize("case", ["the same", "inside", "holding"])
def test_build_report_refuses_it_too(results, case):
    before = _hashes(results)
    with pytest.raises(ValueError, match="out_dir"):
        build_report(results, _outs(results)[case], figures=False)
    assert _hashes(results) == before


@pytest.mark.parametrize("case", ["the same", "inside", "holding"])
def test_study_refuses_it_before_the_suite(tmp_path, checkout, monkeypatch, capsys,  # noqa: F811
                                           case):
    monkeypatch.setattr(study, "run_suite", _never)
    root = tmp_path / "runs"
    (root / "tiny").mkdir(parents=True)
    out = {"the same": root, "inside": root / "tiny" / "report", "holding": tmp_path}[case]
    code = cli.main(["study", "--grid", "tiny", "--results", str(root), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("lrperf study: error: --out")


def test_folders_side_by_side_do_not_overlap(tmp_path):
    assert not overlaps(tmp_path / "results", tmp_path / "results-report")
    assert not overlaps(tmp_path / "a" / "results", tmp_path / "b")

