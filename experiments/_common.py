"""Shared by the experiment scripts: paths, datasets, the reference's parsed numbers, fits, figures.

The reference's numbers are never copied into code: :func:`parse_baseline` reads them from
``baseline-qallse.md`` (path given on the command line) every time an experiment runs.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "trackml"
DEFAULT_BASELINE = REPO.parent / "shared" / "reference" / "baseline-qallse.md"
RESULTS = REPO / "experiments" / "results"
#: Hits of the complete (density 1.0) barrel event000001000 after double-hit removal; used to put
#: the union event on the density axis. Read from the data when available (see full_barrel_hits).
FULL_BARREL_DIR = "qallse_e1000_barrel_subsets/ez-1.0_hpt-1.0_notruth"


@dataclass(frozen=True)
class Dataset:
    name: str          # the reference's (shared) name, or "union"
    density: float     # the dsmaker density; for the union: its hits / the full barrel's hits
    prefix: Path
    truth: bool = True
    kind: str = "subset"  # subset | union | full-barrel | kaggle-full


SUBSETS = [  # (shared name, density, path prefix under the data directory)
    ("ez-0.01_hpt-1.0", 0.01, "qallse_e1000_barrel_subsets/ez-0.01_hpt-1.0/event000001000"),
    ("ez-0.05_hpt-1.0", 0.05, "qallse_e1000_barrel_subsets/ez-0.05_hpt-1.0/event000001000"),
    ("ez-0.1_hpt-1.0", 0.10, "qallse_e1000_barrel_subsets/ez-0.1_hpt-1.0/event000001000"),
    ("mini1-0.15", 0.15, "qallse_e1000_barrel_subsets/mini1-0.15/event000001000"),
    ("ez-0.2_hpt-1.0", 0.20, "qallse_e1000_barrel_subsets/ez-0.2_hpt-1.0/event000001000"),
    ("20-density", 0.20, "qallse_e1000_barrel_subsets/20-density/20-density"),
    ("ez-0.3_hpt-1.0", 0.30, "qallse_e1000_barrel_subsets/ez-0.3_hpt-1.0/event000001000"),
    ("ez-0.4_hpt-1.0", 0.40, "qallse_e1000_barrel_subsets/ez-0.4_hpt-1.0/event000001000"),
    ("ez-0.5_hpt-1.0", 0.50, "qallse_e1000_barrel_subsets/ez-0.5_hpt-1.0/event000001000"),
]
UNION = "qallse_e1000_barrel_union/event000001000"
KAGGLE_FULL = ["kaggle_fullevent_hits_only/event000001001", "kaggle_fullevent_hits_only/event000001003"]


def count_rows(path: Path) -> int:
    with open(path, "rb") as f:
        return max(sum(1 for _ in f) - 1, 0)


def full_barrel_hits(data: Path) -> int | None:
    f = data / FULL_BARREL_DIR / "event000001000-hits.csv"
    return count_rows(f) if f.exists() else None


def datasets(data: Path, union: bool = True, extra: bool = False) -> list[Dataset]:
    """The barrel subsets (and the union event); with ``extra`` also the events without truth."""
    out = [Dataset(n, d, data / p) for n, d, p in SUBSETS]
    full = full_barrel_hits(data)
    if union:
        u = data / UNION
        n = count_rows(Path(f"{u}-hits.csv"))
        out.append(Dataset("union", round(n / full, 3) if full else 0.97, u, kind="union"))
    if extra:
        if full:
            out.append(Dataset("ez-1.0 (no truth)", 1.0, data / FULL_BARREL_DIR / "event000001000",
                               truth=False, kind="full-barrel"))
        for p in KAGGLE_FULL:
            out.append(Dataset(Path(p).name + " (full event, barrel solved)", float("nan"), data / p,
                               truth=False, kind="kaggle-full"))
    return [d for d in out if Path(f"{d.prefix}-hits.csv").exists()]


# --------------------------------------------------------------------------------------------------
# Command line


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help="TrackML data directory (shared/data/trackml)")
    p.add_argument("--baseline", type=Path, default=None,
                   help=f"the reference's measured numbers (default: {DEFAULT_BASELINE}, skipped "
                        "with a note when absent)")
    p.add_argument("--out", type=Path, default=RESULTS, help="directory for results and figures")
    return p


def fail(message: str, code: int = 2):
    """One line on stderr, prefixed with the script's name, and exit ``code`` (2: bad input)."""
    print(f"{Path(sys.argv[0]).name}: error: {message}", file=sys.stderr)
    sys.exit(code)


def require_data(data: Path | None, holding: str) -> None:
    """Exit 2 with one line when the ``--data`` directory (no default: it is where this machine
    keeps its data) is not given or not there."""
    if data is None:
        fail(f"no --data given: give --data DIR holding {holding}")
    if not data.is_dir():
        fail(f"data directory {data} not found (give --data DIR holding {holding})")


def check_args(args) -> None:
    """Exit 2 with one line when the data (or an explicitly given baseline) is missing."""
    if not args.data.is_dir():
        fail(f"data directory {args.data} not found (give --data DIR, the shared/data/trackml directory)")
    if args.baseline is not None and not args.baseline.is_file():
        fail(f"baseline file {args.baseline} not found")
    args.out.mkdir(parents=True, exist_ok=True)


def run_or_load(args, out_json: Path, run) -> tuple[dict, bool]:
    """Run the experiment and write its JSON (timed), or with ``--replot`` read that JSON back.

    Returns the data and whether it is fresh (so that the caller writes its CSVs).
    """
    import json
    import time

    from qtrack.io import write_json

    if args.replot:
        if not out_json.exists():
            fail(f"{out_json} not found; run without --replot first")
        return json.loads(out_json.read_text()), False
    t0 = time.perf_counter()
    data = run(args)
    data["measured"]["elapsed_s"] = round(time.perf_counter() - t0, 1)
    write_json(out_json, data)
    return data, True


def baseline_path(args) -> Path | None:
    if args.baseline is not None:
        return args.baseline
    if DEFAULT_BASELINE.is_file():
        return DEFAULT_BASELINE
    print(f"note: {DEFAULT_BASELINE} not found, figures drawn without the reference", file=sys.stderr)
    return None


# --------------------------------------------------------------------------------------------------
# The reference's numbers, parsed from baseline-qallse.md


def _num(cell: str) -> float:
    """First number of a table cell ('97.74 [97.42-97.85]' -> 97.74, '2,967' -> 2967, '-' -> nan)."""
    m = re.search(r"-?\d[\d,]*(?:\.\d+)?", cell.replace("\u2009", ""))
    if not m or cell.strip() in ("-", "–", ""):
        return math.nan
    return float(m.group(0).replace(",", ""))


def _range(cell: str) -> tuple[float, float]:
    m = re.search(r"\[\s*(-?[\d.]+)\s*-\s*(-?[\d.]+)\s*\]", cell)
    if m:
        return float(m.group(1)), float(m.group(2))
    v = _num(cell)
    return v, v


def _tables(text: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """Markdown tables as (section heading, header cells, rows of cells)."""
    out, heading, header, rows = [], "", None, []
    for line in text.splitlines() + [""]:
        s = line.strip()
        if s.startswith("#"):
            heading = s.lstrip("#").strip()
        if s.startswith("|"):
            cells = [c.strip() for c in s.strip("|").split("|")]
            if header is None:
                header = cells
            elif all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                continue
            else:
                rows.append(cells)
        elif header is not None:
            out.append((heading, header, rows))
            header, rows = None, []
    return out


_COLUMNS = {  # our key: words that identify the reference's column header
    "dataset": ("dataset",), "density": ("density",), "hits": ("hits",),
    "input_doublets": ("input doublets",), "seeding_s": ("seeding",), "model": ("model",),
    "build_s": ("build",), "qubo": ("qubo",), "neal_s": ("neal",), "precision": ("precision",),
    "recall": ("recall",), "trackml": ("trackml",), "tracks": ("tracks",), "peak_rss_mb": ("rss", "peak"),
}


def parse_baseline(path: Path | None) -> dict:
    """The reference's per-subset rows and its full-density notes, from baseline-qallse.md.

    Returns ``{"rows": [...], "full_density": {...}, "source": path}``; rows hold dataset, density,
    hits, input_doublets, seeding_s, model ("Mp"/"D0"), build_s (+ build_is_cpu), qubo_variables,
    qubo_couplers, neal_s, precision/recall/trackml as fractions (with _lo/_hi over seeds),
    tracks, peak_rss_mb. Missing file: empty rows.
    """
    if path is None:
        return {"rows": [], "full_density": {}, "source": None}
    text = Path(path).read_text()
    rows, full = [], {}
    for heading, header, body in _tables(text):
        low = [h.lower() for h in header]
        if "model" in low and any("build" in h for h in low):
            col = {}
            for key, words in _COLUMNS.items():
                for i, h in enumerate(low):
                    if any(w in h for w in words) and i not in col.values():
                        if key == "hits" and ("doublets" in h):
                            continue
                        col[key] = i
                        break
            prev: dict = {}
            for cells in body:
                get = (lambda k: cells[col[k]] if k in col and col[k] < len(cells) else "")
                row = {}
                name = get("dataset")
                if name:
                    prev = {"dataset": name.strip("` "), "density": _num(get("density")),
                            "hits": _num(get("hits")), "input_doublets": _num(get("input_doublets")),
                            "seeding_s": _num(get("seeding_s"))}
                row.update(prev)
                row["model"] = get("model")
                row["build_s"] = _num(get("build_s"))
                row["build_is_cpu"] = "cpu" in get("build_s").lower()
                q = get("qubo").split("/")
                row["qubo_variables"] = _num(q[0]) if q else math.nan
                row["qubo_couplers"] = _num(q[1]) if len(q) > 1 else math.nan
                row["neal_s"] = _num(get("neal_s"))
                for k in ("precision", "recall", "trackml"):
                    v = get(k)
                    lo, hi = _range(v)
                    row[k], row[f"{k}_lo"], row[f"{k}_hi"] = (round(_num(v) / 100, 6), round(lo / 100, 6),
                                                              round(hi / 100, 6))
                row["tracks"] = _num(get("tracks"))
                row["peak_rss_mb"] = _num(get("peak_rss_mb"))
                rows.append(row)
        elif len(header) == 2 and "stage" in header[0].lower():
            m = re.search(r"([\d,]+)\s+hits", heading)
            full["hits"] = float(m.group(1).replace(",", "")) if m else math.nan
            stages = []
            for stage, result in body:
                st = {"stage": stage, "text": result}
                m = re.search(r"in\s+([\d.]+)\s*s\s+wall", result) or re.search(r"in\s+([\d.]+)\s*s\b", result)
                if m:
                    st["wall_s"] = float(m.group(1))
                m = re.search(r"not finished after\s+([\d.]+)\s*min", result)
                if m:
                    st["unfinished_after_s"] = float(m.group(1)) * 60
                m = re.search(r"([\d.]+)\s*GB peak", result)
                if m:
                    st["peak_gb"] = float(m.group(1))
                stages.append(st)
            full["stages"] = stages
    return {"rows": rows, "full_density": full, "source": str(path)}


def reference_rows(ref: dict, model: str) -> list[dict]:
    """Reference rows of one model ("Mp" or "D0"), sorted by hits."""
    return sorted((r for r in ref["rows"] if r["model"].lower() == model.lower()), key=lambda r: r["hits"])


# --------------------------------------------------------------------------------------------------
# Fits and output


def fit_power(n, t, min_n: float = 0) -> dict | None:
    """Least-squares fit of log t = a + k log n over points with n >= min_n and t > 0."""
    n, t = np.asarray(n, float), np.asarray(t, float)
    ok = (n >= min_n) & (t > 0) & np.isfinite(t) & np.isfinite(n)
    if ok.sum() < 2:
        return None
    k, a = np.polyfit(np.log(n[ok]), np.log(t[ok]), 1)
    return {"exponent": float(k), "prefactor": float(np.exp(a)), "points": int(ok.sum()),
            "n_min": float(n[ok].min()), "n_max": float(n[ok].max())}


def write_csv(path: Path, rows: list[dict]) -> Path:
    """Write rows (dicts) as CSV, atomically (:func:`qtrack.io.write_csv`), floats to six
    significant digits."""
    from qtrack.io import write_csv as write

    return write(path, [{k: _fmt(v) for k, v in r.items()} for r in rows])


def _fmt(v):
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return v


def footer(fig, measured: dict, extra: str = "") -> None:
    """A small grey line at the bottom of a figure saying how it was measured."""
    from benchmarks.harness import short_machine

    text = (f"{measured['method']}\n{short_machine(measured['machine'])}; load average at start "
            f"{measured['load_average_1_5_15min']}; {measured['started']}"
            + (f"; {extra}" if extra else ""))
    # supxlabel takes part in the constrained layout, so nothing overlaps it
    fig.supxlabel(text, x=0.005, ha="left", fontsize=7, color="#606060")


def warm_up() -> None:
    """Load numba's compiled kernels before timing (:func:`qtrack.runner.task.warm_up`), with and
    without the impact-parameter weights."""
    from qtrack.config import Config
    from qtrack.runner.task import warm_up as solve_warm_up_event

    cfg = Config().replace(solve={"num_reads": 2, "num_sweeps": 50})
    solve_warm_up_event("neal", cfg)
    solve_warm_up_event("neal", cfg.replace(model={"use_d0_weights": True}))


def run_main(main) -> None:
    """Exit with ``main()``'s code; Ctrl-C ends with one line and exit code 130."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(f"{Path(sys.argv[0]).name}: interrupted", file=sys.stderr)
        sys.exit(130)
