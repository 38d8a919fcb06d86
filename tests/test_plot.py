"""`qtrack plot`: figures of a solved event, and the numbers behind them."""
from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("matplotlib")

from qtrack import pipeline  # noqa: E402
from qtrack.cli import plot as plot_command  # noqa: E402
from qtrack.plot.tables import (binomial_interval, efficiency_tables, fit_tracks,  # noqa: E402
                                particle_table, track_table)


EVENT = Path(__file__).resolve().parent.parent / "data" / "event000001000"


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    result = pipeline.solve(EVENT)
    out = tmp_path_factory.mktemp("solved")
    paths = pipeline.write_outputs(result, out)
    return result, paths


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def check_png(path: Path) -> None:
    assert path.exists(), path
    assert path.stat().st_size > 20_000, f"{path} suspiciously small"
    w, h = png_size(path)
    assert 600 <= w <= 4000 and 400 <= h <= 4000, (w, h)


def test_plot_from_summary(solved):
    result, paths = solved
    res = CliRunner().invoke(plot_command, [str(paths["summary"])])
    assert res.exit_code == 0, res.output
    out = paths["summary"].parent
    for kind in ("display", "efficiency"):
        png = out / f"{result.event.name}-{kind}.png"
        check_png(png)
        assert str(png) in res.output
    # written atomically: no temporary file left behind
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_plot_from_submission_to_outdir(solved, tmp_path):
    result, paths = solved
    res = CliRunner().invoke(plot_command, ["--submission", str(paths["submission"]), "--event",
                                            str(EVENT), "-o", str(tmp_path / "figs"), "--what", "display"])
    assert res.exit_code == 0, res.output
    check_png(tmp_path / "figs" / f"{result.event.name}-display.png")
    assert not (tmp_path / "figs" / f"{result.event.name}-efficiency.png").exists()


@pytest.mark.parametrize("args, message", [
    (["{tmp}/nowhere-summary.json"], "summary file not found"),
    ([], "give a SUMMARY json"),
    (["--submission", "{tmp}/none.csv", "--event", str(EVENT)], "submission file not found"),
])
def test_plot_errors_are_one_line(tmp_path, args, message):
    res = CliRunner().invoke(plot_command, [a.format(tmp=tmp_path) for a in args])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qtrack: error:") and message in lines[0], res.output
    assert not list(tmp_path.glob("*.png"))


def test_plot_without_truth(solved, tmp_path):
    result, paths = solved
    shutil.copy(f"{EVENT}-hits.csv", tmp_path / "notruth-hits.csv")
    sub = tmp_path / "sub.csv"
    shutil.copy(paths["submission"], sub)
    args = ["--submission", str(sub), "--event", str(tmp_path / "notruth")]
    res = CliRunner().invoke(plot_command, args)
    assert res.exit_code == 2 and "no truth" in res.output
    assert not list(tmp_path.glob("*.png"))
    res = CliRunner().invoke(plot_command, args + ["--what", "display"])
    assert res.exit_code == 0, res.output
    check_png(tmp_path / "notruth-display.png")


def test_plot_rejects_foreign_submission(tmp_path):
    sub = tmp_path / "sub.csv"
    sub.write_text("hit_id,track_id\n1,1\n2,1\n")
    res = CliRunner().invoke(plot_command, ["--submission", str(sub), "--event", str(EVENT)])
    assert res.exit_code == 2 and "missing" in res.output


def _track_id(result):
    ev = result.event
    return result.submission.set_index("hit_id").track_id.reindex(ev.hits.hit_id).to_numpy()


def test_tables_agree_with_scores(solved):
    result, _ = solved
    tid = _track_id(result)
    s = result.scores
    parts = particle_table(result.event, tid)
    foc = parts[parts.focused]
    assert (len(foc), foc.found.sum()) == (s["focused_particles"], s["focused_found"])
    low = parts[parts.low_pt]
    assert (len(low), low.found.sum()) == (s["low_pt_particles"], s["low_pt_found"])
    tracks = track_table(result.event, tid)
    assert len(tracks) == s["tracks"] == len(result.tracks)
    assert tracks.fake.sum() == s["fake_tracks"]
    # focused particles: pT >= 1 GeV at production, in the barrel's eta range
    assert (foc.pt >= 1.0).all() and (foc.eta.abs() < 4).all()
    tables = efficiency_tables(result.event, tid)
    for curve in ("eff_vs_pt_focused", "eff_vs_eta_focused"):
        t = tables[curve]
        assert (t.n.sum(), t.k.sum()) == (s["focused_particles"], s["focused_found"])
        ok = t.n > 0
        assert ((t.err_lo[ok] <= t.rate[ok]) & (t.rate[ok] <= t.err_hi[ok])).all()
    # the primaries on >= 5 layers hold the focused and the low-pT particles
    prim = tables["eff_vs_pt_primaries"]
    assert prim.n.sum() >= s["focused_particles"] + s["low_pt_particles"]
    low_bins = prim[(prim.lo_edge >= 0.3) & (prim.hi_edge <= 1.0)]
    assert (low_bins.n.sum(), low_bins.k.sum()) == (s["low_pt_particles"], s["low_pt_found"])
    assert (tables["fake_vs_eta"].n.sum(), tables["fake_vs_eta"].k.sum()) == (s["tracks"],
                                                                             s["fake_tracks"])


def test_fit_tracks_recovers_helix():
    # A 2 GeV track (R = pT / (0.3e-3 * 2 T) = 3333 mm) from the origin at eta 0.8, sampled at the
    # barrel layer radii: the fits must give back pT and eta.
    import pandas as pd

    pt, eta, radius = 2.0, 0.8, 2.0 / (0.3e-3 * 2.0)
    r_layers = np.array([32.0, 72.0, 116.0, 172.0, 260.0, 360.0, 500.0, 660.0, 820.0, 1020.0])
    phi = np.arcsin(r_layers / (2 * radius))  # chord angle from the origin on the circle
    df = pd.DataFrame({"x": r_layers * np.cos(phi), "y": r_layers * np.sin(phi),
                       "z": r_layers * np.sinh(eta), "track_id": 7})
    df["r"] = np.hypot(df.x, df.y)
    fit = fit_tracks(df)
    assert fit.track_id.tolist() == [7] and fit.nhits.tolist() == [10]
    assert fit.pt.iloc[0] == pytest.approx(pt, rel=0.01)
    assert fit.eta.iloc[0] == pytest.approx(eta, abs=0.01)


def test_binomial_interval():
    lo, hi = binomial_interval(np.array([0, 5, 10, 0]), np.array([10, 10, 10, 0]))
    assert lo[0] == 0 and hi[2] == 1
    assert lo[1] < 0.5 < hi[1] and 0.3 < lo[1] and hi[1] < 0.7
    assert np.isnan(lo[3]) and np.isnan(hi[3])


def test_display_of_a_sector(solved, tmp_path):
    # events with many tracks are drawn in one phi sector; force it on the small event
    from qtrack.plot.display import draw_event_display

    result, _ = solved
    path = draw_event_display(result.event, _track_id(result), tmp_path / "sector.png",
                              max_full_tracks=10, note="a note")
    check_png(path)
