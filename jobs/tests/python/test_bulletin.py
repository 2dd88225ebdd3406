"""The bulletin in a real browser: headless Chromium (Debian's, installed by
`make test`) draws the index and the county page with their CJK text and
charts, and prints the county page to an A4 PDF."""
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from conftest import CARBONSTAT, ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def bulletin(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("bulletin")
    shutil.copytree(ROOT / "data-samples" / "data", tmp / "data")
    text = (ROOT / "data-samples" / "pipeline.yaml").read_text(encoding="utf-8")
    text = text.replace("../factors/cn-2026-12", str(ROOT / "factors" / "cn-2026-12")).replace("output: ../out", "output: out")
    (tmp / "pipeline.yaml").write_text(text, encoding="utf-8")
    r = subprocess.run([CARBONSTAT, "--quiet", "run", "--config", str(tmp / "pipeline.yaml"), "--no-summary"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # the run's pages: bulletin/<F>/ (bulletin/index.html leads there)
    [pages] = [p.parent for p in (tmp / "out" / "bulletin").glob("*/index.html")]
    return pages


def chromium(*args: str) -> None:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: `make test` installs it (apt: chromium fonts-noto-cjk)")
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def screenshot(page: Path, png: Path, height: int) -> Image.Image:
    chromium(f"--window-size=1000,{height}", f"--screenshot={png}", page.as_uri())
    return Image.open(png).convert("RGB")


def test_cjk_fonts_are_there():
    r = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True)
    assert "Noto" in r.stdout, "no CJK font: `make test` installs fonts-noto-cjk"


def test_the_pages_are_drawn(bulletin, tmp_path):
    for page, height in [(bulletin / "index.html", 1000), (bulletin / "regions" / "150622.html", 1800)]:
        img = screenshot(page, tmp_path / f"{page.stem}.png", height)
        # not blank: many colours (text, tiles, chart lines), not one background
        colours = img.getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 50, page
        # dark text and coloured pixels both present
        pixels = list(img.getdata())
        dark = sum(1 for p in pixels if max(p) < 100)
        red = sum(1 for p in pixels if p[0] > 150 and p[1] < 80 and p[2] < 80)
        assert dark > 2000, f"{page}: no text drawn"
        assert red > 200, f"{page}: no red rule, tile or plan path drawn"


def test_the_county_page_prints_to_a_pdf(bulletin, tmp_path):
    pdf = tmp_path / "county.pdf"
    chromium(f"--print-to-pdf={pdf}", "--no-pdf-header-footer", (bulletin / "regions" / "150622.html").as_uri())
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000
    # A4 pages: 210 × 297 mm = 595 × 842 points (Chromium writes 594.96 × 841.92)
    import re
    boxes = re.findall(rb"/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]", data)
    assert boxes, "no page in the PDF"
    assert all(abs(float(w) - 595) < 1 and abs(float(h) - 842) < 1 for w, h in boxes), boxes
