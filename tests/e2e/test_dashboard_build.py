"""The dashboard's shipped files are what its npm sources build (no CDN, nothing stale)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "shared" / "dashboard"
STATIC = ROOT / "shared" / "quantterminal" / "dashboard" / "static"


@pytest.mark.slow
def test_the_shipped_bundle_is_the_build_of_the_sources(tmp_path: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI"):
            pytest.fail("npm is needed to check the dashboard build", pytrace=False)
        pytest.skip("npm is not installed")
    work = tmp_path / "dashboard"
    shutil.copytree(SOURCES, work, ignore=shutil.ignore_patterns("node_modules"))
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=work, check=True, capture_output=True)
    out = tmp_path / "app.js"
    subprocess.run(
        [str(work / "node_modules" / ".bin" / "esbuild"), "src/main.js", "--bundle", "--minify", "--target=es2020",
         f"--outfile={out}"],
        cwd=work, check=True, capture_output=True,
    )  # fmt: skip
    assert out.read_bytes() == (STATIC / "app.js").read_bytes(), "run `npm run build` in shared/dashboard"
    assert (tmp_path / "app.css").read_bytes() == (STATIC / "app.css").read_bytes()
    html = (STATIC / "index.html").read_text()
    assert "http" not in html.replace("http-equiv", ""), "no CDN: every file is served locally"
