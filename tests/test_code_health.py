"""Every module imports on its own; the kernels' outputs do not depend on threads or on their
second pass; straight tracks survive the quality cut; an event too big for the memory given is
one line and exit code 2."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, run_cli, run_cli_patched

SIM_EVENT = REPO / "data" / "sim" / "event000000001"

#: Imports each qtrack module in a fresh child (fork of a parent that has loaded only the
#: third-party stacks, so that each child starts without any qtrack module) and prints the
#: modules that failed.
_IMPORT_EACH = r"""
import importlib, os, pkgutil, sys, traceback
import click, numpy, pandas, numba, dimod  # third-party only: shared by the children
import qtrack
names = sorted(m.name for m in pkgutil.walk_packages(qtrack.__path__, "qtrack."))
for name in list(sys.modules):
    if name == "qtrack" or name.startswith("qtrack."):
        del sys.modules[name]
failed = []
for name in names:
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:  # an optional extra that is not installed
            os._exit(0 if not (exc.name or "").startswith("qtrack") else 1)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        failed.append(name)
print(len(names), "modules;", "failed:", " ".join(failed) or "none")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="uses fork")
def test_every_module_imports_on_its_own():
    proc = subprocess.run([sys.executable, "-c", _IMPORT_EACH], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.endswith("failed: none"), proc.stdout + proc.stderr
    assert int(last.split()[0]) > 40  # the walk found the package


def _model_arrays(event, threads):
    from qtrack.config import Config
    from qtrack.pipeline import build

    built = build(event, Config().replace(solve={"threads": threads}))
    d, t, m = built.doublets, built.triplets, built.model
    return {"doublet_inner": d.inner, "doublet_outer": d.outer, "h1": t.h1, "h2": t.h2,
            "h3": t.h3, "curvature": t.curvature, "quad_t1": m.quad_t1, "quad_t2": m.quad_t2,
            "quad_strength": m.quad_strength, "conflict_i": m.conflict_i,
            "conflict_j": m.conflict_j, "linear": built.qubo.linear, "quad": built.qubo.quad}


@pytest.fixture(scope="module")
def sim_event():
    from qtrack.event import load_event

    return load_event(SIM_EVENT)


@pytest.fixture(scope="module")
def one_thread(sim_event):
    return _model_arrays(sim_event, 1)


@pytest.mark.parametrize("threads", [2, 3])
def test_thread_counts_give_identical_arrays(sim_event, one_thread, threads):
    got = _model_arrays(sim_event, threads)
    assert len(one_thread["h1"]) > 10_000 and len(one_thread["conflict_i"]) > 100_000
    for key, want in one_thread.items():
        np.testing.assert_array_equal(got[key], want, err_msg=key)


def test_forced_second_pass_gives_the_same_arrays(sim_event, one_thread, monkeypatch):
    from qtrack.model import couplers, doublets, kernels, triplets

    real = kernels.sized_pass
    second_passes = []

    def no_guess(kernel, args, dtypes, guess, rows, threads=1):
        def counted(lo, hi, *rest):
            n = kernel(lo, hi, *rest)
            if n > len(rest[-1]):
                second_passes.append(kernel.__name__)
            return n

        counted.__name__ = kernel.__name__
        return real(counted, args, dtypes, 0, rows, threads)

    for module in (couplers, doublets, triplets):
        monkeypatch.setattr(module, "sized_pass", no_guess)
    got = _model_arrays(sim_event, 2)
    assert {"_quadruplet_kernel", "_conflict_kernel"} <= set(second_passes)
    for key, want in one_thread.items():
        np.testing.assert_array_equal(got[key], want, err_msg=key)


def test_circle_fit_of_a_straight_line_and_of_a_circle():
    from qtrack.geometry import beamline_distance, circle_fit, radius_of

    r = np.array([32.0, 72.0, 116.0, 172.0, 260.0])
    use = np.ones(5, dtype=bool)
    h = np.arange(5)
    # Exactly straight, 3 mm from the beam line: zero curvature, d0 = 3 mm.
    x, y = r * 0.6 + 3 * 0.8, r * 0.8 - 3 * 0.6
    fit = np.array([circle_fit(h, use, x, y)])
    assert fit[0, 0] == 0.0 and np.isinf(radius_of(fit)[0])
    assert abs(beamline_distance(fit)[0]) == pytest.approx(3.0, rel=1e-9)
    # A circle of radius 2000 mm through the origin.
    phi = np.arcsin(r / 4000.0)
    x, y = 2000 - 2000 * np.cos(2 * phi), 2000 * np.sin(2 * phi)
    fit = np.array([circle_fit(h, use, x, y)])
    assert radius_of(fit)[0] == pytest.approx(2000.0, rel=1e-9)
    assert beamline_distance(fit)[0] == pytest.approx(0.0, abs=1e-6)


def test_straight_tracks_survive_the_quality_cut():
    from qtrack.config import TrackConfig
    from qtrack.model.layers import TRACKML_BARREL
    from qtrack.track_quality import quality_mask
    from qtrack.tracks import Tracks

    radii = TRACKML_BARREL.position
    n_layers = len(radii)
    xs, ys, zs, layer = [], [], [], []
    for k, (phi, cot) in enumerate([(0.1, -0.7), (0.8, 0.0), (2.0, 0.4), (-2.5, 1.1)]):
        xs += list(radii * np.cos(phi))
        ys += list(radii * np.sin(phi))
        zs += list(radii * cot)
        layer += list(range(n_layers))
    x, y, z = np.array(xs), np.array(ys), np.array(zs)
    n = len(x)
    ptr = np.arange(0, n + 1, n_layers, dtype=np.int64)
    hits = np.arange(n, dtype=np.int64)
    inner = np.concatenate([hits[k:k + n_layers - 1] for k in range(0, n, n_layers)])
    tracks = Tracks(ptr, hits, inner, inner + 1)
    keep = quality_mask(tracks, x, y, z, np.array(layer, dtype=np.int32), TRACKML_BARREL,
                        TrackConfig())
    assert keep.all()


def test_runner_warm_up_finds_its_tracks():
    """The warm-up event's tracks (straight and curved) are found, so every stage, the double
    hits included, has run on real tracks."""
    from qtrack.config import Config
    from qtrack.runner.task import warm_up_event

    import qtrack

    with warm_up_event() as (prefix, n_tracks):
        result = qtrack.solve(prefix, config=Config().replace(solve={"num_reads": 2}))
    assert len(result.tracks) == n_tracks
    assert result.scores["trackml_score"] > 0.95


def test_too_little_memory_is_one_line_and_exit_2(tmp_path):
    out = tmp_path / "out"
    proc = run_cli("solve", SIM_EVENT, "--max-memory", "0.01", "-o", out)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("qtrack: error: event event000000001 needs about "), proc.stderr
    assert "triplets, more than the 0.0 GB left under --max-memory; try " in lines[-1]
    assert "Traceback" not in proc.stderr and not out.exists()


def test_memory_error_anywhere_is_one_line_and_exit_2(tmp_path):
    setup = ("import numpy as np, qtrack.pipeline as p\n"
             "def greedy(*a, **k):\n    return np.empty(2**62, dtype=np.uint8)\n"
             "p.solve_built = greedy")
    proc = run_cli_patched(setup, "solve", SIM_EVENT, "-o", "out", "-q", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qtrack: error: out of memory ("), proc.stderr
    assert not (tmp_path / "out").exists()
