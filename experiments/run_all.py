"""Run every experiment, one after the other, and record how long each took.

    python experiments/run_all.py                # full settings (~15 min on a quiet 2-core machine)
    python experiments/run_all.py --quick        # 1 seed / 1 repeat each (~6 min)
    python experiments/run_all.py --skip scaling --data /path/to/shared/data/trackml

Each experiment runs as its own process (``sys.executable experiments/<name>.py``) with ``--data``
and ``--out`` passed on. The solver study runs on the density-0.1 and density-0.5 subsets and
the union event (3 seeds; 1 with ``--quick``) and its figure is drawn.
Writes experiments/results/run_all.json (per experiment: the command, exit code, wall time) and
exits non-zero when any experiment failed.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks.harness
import _common as C  # noqa: E402

HERE = Path(__file__).resolve().parent
ORDER = ["density_scan", "efficiency_pt_eta", "scaling", "solver_study", "solver_study_plot"]
#: Events the solver study compares samplers on (path prefixes under --data).
SOLVER_EVENTS = ["qallse_e1000_barrel_subsets/ez-0.1_hpt-1.0/event000001000",
                 "qallse_e1000_barrel_subsets/ez-0.5_hpt-1.0/event000001000",
                 "qallse_e1000_barrel_union/event000001000"]


def main(argv=None) -> int:
    p = C.parser(__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="reduced settings (1 seed / 1 repeat)")
    p.add_argument("--skip", nargs="+", default=[], choices=ORDER, help="experiments to leave out")
    args = p.parse_args(argv)
    C.check_args(args)
    from benchmarks.harness import provenance
    from qtrack.io import write_json

    common = ["--data", str(args.data), "--out", str(args.out)]
    if args.baseline is not None:
        common += ["--baseline", str(args.baseline)]
    commands = {
        "density_scan": common + (["--quick"] if args.quick else []),
        "efficiency_pt_eta": common + (["--models", "mp"] if args.quick else []),
        "scaling": common + (["--quick"] if args.quick else []),
        "solver_study": [str(args.data / e) for e in SOLVER_EVENTS]
        + ["--seeds", "1" if args.quick else "3", "--out", str(args.out / "solver_study")],
        "solver_study_plot": ["--input", str(args.out / "solver_study.json"), "--out", str(args.out)],
    }
    measured = provenance("each experiment in its own process, wall time by time.perf_counter")
    done, failed = [], []
    t_all = time.perf_counter()
    for name in ORDER:
        script = HERE / f"{name}.py"
        if name in args.skip:
            continue
        if not script.exists():
            print(f"--- {name}: {script.name} not there, skipped", flush=True)
            continue
        if name == "solver_study_plot" and not (args.out / "solver_study.json").exists():
            print(f"--- {name}: no {args.out / 'solver_study.json'}, skipped", flush=True)
            continue
        cmd = [sys.executable, str(script), *commands[name]]
        print(f"--- {name}: {' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd)
        wall = time.perf_counter() - t0
        print(f"--- {name}: exit {rc} after {wall:.0f} s", flush=True)
        # The interpreter by name and the script from the repository root: no path of this
        # machine goes into the results.
        recorded = ["python3", str(script.relative_to(HERE.parent)), *commands[name]]
        done.append({"experiment": name, "command": recorded, "returncode": rc,
                     "wall_s": round(wall, 1)})
        if rc != 0:
            failed.append(name)
    total = time.perf_counter() - t_all
    write_json(args.out / "run_all.json", {"measured": measured, "quick": args.quick,
                                           "total_wall_s": round(total, 1), "experiments": done})
    print(f"all done in {total / 60:.1f} min" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
