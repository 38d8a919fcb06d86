"""The README's code blocks run as written, on the shipped data.

* Every ```python block runs as a script of its own (``python block.py``, so that a local Dask
  cluster's workers can import it, as they would a user's script) in a fresh process. Its working
  directory holds ``data``, a link to the repository's, so the README's paths (``data/...``,
  ``out/...``) resolve as from the repository root while nothing it writes lands in the repository.
* Every ```toml block loads through ``Config.from_toml``; a block right after the line
  ``<!-- readme-test: defaults -->`` must give exactly the defaults, ``Config()``.
* A block right after ``<!-- readme-test: skip: REASON -->`` is not run and is reported as skipped
  with REASON: only for what cannot run offline here (a SLURM cluster, D-Wave credentials).

Other blocks (bash, text) are not run.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qtrack.config import Config

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"^<!-- readme-test: (skip: .+|defaults) -->$")


def readme_blocks() -> list[tuple[int, str, str, str | None]]:
    """(line number, language, code, marker) of every fenced block of the README."""
    lines = README.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while not lines[j].startswith("```"):
            j += 1
        prev = lines[i - 1] if i else ""
        marker = MARKER.match(prev)
        blocks.append((i + 1, m.group(1), "\n".join(lines[i + 1:j]) + "\n",
                       marker.group(1) if marker else None))
        i = j + 1
    return blocks


BLOCKS = readme_blocks()
PYTHON = [b for b in BLOCKS if b[1] == "python"]
TOML = [b for b in BLOCKS if b[1] == "toml"]


def test_the_readme_has_the_blocks_and_markers_we_expect():
    assert len(PYTHON) >= 3 and len(TOML) >= 2
    assert [b for b in TOML if b[3] == "defaults"], "the Configuration section's defaults block"
    # a marker is only ever right before a block, never stray
    markers = [n for n, line in enumerate(README.read_text().splitlines(), 1)
               if line.startswith("<!-- readme-test")]
    assert sorted(markers) == sorted(n - 1 for n, _, _, m in BLOCKS if m)


def _skip_if_marked(marker):
    if marker and marker.startswith("skip: "):
        pytest.skip(marker[len("skip: "):])


@pytest.mark.parametrize("line, lang, code, marker", PYTHON, ids=[f"line{b[0]}" for b in PYTHON])
def test_python_block_runs(line, lang, code, marker, tmp_path):
    _skip_if_marked(marker)
    (tmp_path / "data").symlink_to(REPO / "data", target_is_directory=True)
    script = tmp_path / f"readme_line{line}.py"
    script.write_text(code)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run([sys.executable, script.name], cwd=tmp_path, capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, f"README.md line {line}:\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("line, lang, code, marker", TOML, ids=[f"line{b[0]}" for b in TOML])
def test_toml_block_loads(line, lang, code, marker, tmp_path):
    _skip_if_marked(marker)
    path = tmp_path / "readme.toml"
    path.write_text(code)
    cfg = Config.from_toml(path)
    if marker == "defaults":
        assert cfg == Config(), f"README.md line {line}: not the defaults"
    else:
        assert cfg != Config(), f"README.md line {line}: changes nothing"


def test_every_printed_figure_is_defined_in_the_readme(event):
    """Each row of the score table and each key of the scores (the summary JSON's) is named in
    the README's "What the numbers mean"."""
    import pandas as pd

    from qtrack.cli import SCORE_ROWS
    from qtrack.scoring import EFFICIENCY_SETS, score_submission

    text = README.read_text()
    section = text[text.index("## What the numbers mean"):text.index("## Python API")]
    sub = pd.DataFrame({"hit_id": event.truth.hit_id, "track_id": event.truth.particle_id})
    scores = score_submission(event.hits, event.truth, sub, particles=event.particles)
    for key in scores:
        generic = re.sub(f"^({'|'.join(EFFICIENCY_SETS)})_(found|particles)$", r"<set>_\2", key)
        assert f"`{generic}`" in section, key
    for key, label, _ in SCORE_ROWS:
        name, _, particle_set = label.partition(" (")
        assert f"`{key}`" in section and name in section, label
        if particle_set:  # a row of the sets table
            assert f"| {particle_set.rstrip(')')} |" in section, label
