"""The analyst's notebook (docs/notebooks/reading-the-reports.ipynb) runs on the
sample with a real Jupyter kernel: a failing cell fails the test."""
import os
import shutil
import subprocess

import nbformat
from nbclient import NotebookClient

from conftest import CARBONSTAT, ROOT


def test_the_notebook_runs_on_the_sample(tmp_path):
    shutil.copytree(ROOT / "data-samples" / "data", tmp_path / "data")
    text = (ROOT / "data-samples" / "pipeline.yaml").read_text(encoding="utf-8")
    text = text.replace("../factors/cn-2026-12", str(ROOT / "factors" / "cn-2026-12")).replace("output: ../out", "output: out")
    (tmp_path / "pipeline.yaml").write_text(text, encoding="utf-8")
    r = subprocess.run([CARBONSTAT, "--quiet", "run", "--config", str(tmp_path / "pipeline.yaml"), "--no-summary"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    nb = nbformat.read(ROOT / "docs" / "notebooks" / "reading-the-reports.ipynb", as_version=4)
    os.environ["CARBONSTAT_OUT"] = str(tmp_path / "out")
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        del os.environ["CARBONSTAT_OUT"]
    # every code cell ran and the plot cell drew a figure
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code)
