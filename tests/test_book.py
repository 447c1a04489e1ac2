"""The book builds from the reference notebooks, and its pages are complete.

Builds the HTML book with Jupyter Book from ``tests/notebooks`` (the quick-profile
notebooks that nbval also checks), then checks that every ``_toc.yml`` entry has a page,
that every image a page references exists and is not empty, and that headless Chromium
renders the index page to a non-blank screenshot.
"""
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from nsde import runbook

pytestmark = pytest.mark.book

REFS = runbook.REFS


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs).get("src", ""))


@pytest.fixture(scope="module")
def html_root(tmp_path_factory):
    chapters = [e for e in runbook.toc_entries() if (runbook.REPO / f"{e}.py").exists()]
    missing = [e for e in chapters if not (REFS / f"{Path(e).name}.ipynb").exists()]
    if missing:
        pytest.fail(f"reference notebooks missing for {missing}; run `make refs`")
    root = tmp_path_factory.mktemp("book")
    index = runbook.build_html(REFS, root=root)
    return index.parent


def test_reference_notebooks_run_the_code_of_the_chapters(tmp_path):
    """nbval executes tests/notebooks, not book/*.py: a chapter edited without `make refs`
    would otherwise be tested on its old code."""
    import nbformat

    def code(nb):
        return [c.source.strip() for c in nb.cells
                if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]

    stale = []
    for entry, path in runbook.convert_chapters(tmp_path, "simulator").items():  # the quick profile's cells
        ref = REFS / f"{Path(entry).name}.ipynb"
        if not ref.exists() or code(nbformat.read(path, as_version=4)) != code(nbformat.read(ref, as_version=4)):
            stale.append(entry)
    assert not stale, f"reference notebooks out of date for {stale}; run `make refs`"


def test_every_toc_entry_has_a_page(html_root):
    for entry in runbook.toc_entries():
        page = html_root / f"{entry}.html"
        assert page.exists(), f"no page for {entry}"
        assert page.stat().st_size > 1000


def test_every_image_exists_and_is_not_empty(html_root):
    n_images = 0
    for page in html_root.rglob("*.html"):
        parser = _Images()
        parser.feed(page.read_text(errors="replace"))
        for src in parser.sources:
            if src.startswith(("http:", "https:", "data:")):
                continue
            path = (page.parent / src.split("#")[0].split("?")[0]).resolve()
            assert path.exists(), f"{page.name} references missing image {src}"
            assert path.stat().st_size > 0, f"{page.name} references empty image {src}"
            n_images += 1
    assert n_images > 0, "the book shows no figures at all"


def test_chapters_show_no_error_outputs(html_root):
    for entry in runbook.toc_entries()[1:]:
        text = (html_root / f"{entry}.html").read_text(errors="replace")
        assert "Traceback (most recent call last)" not in text, f"{entry} shows a traceback"


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_verdicts_render_as_prose_not_code_output(html_root):
    """Verdict sentences are Markdown outputs (they wrap), never lines of printed code output."""
    text = (html_root / "book" / "03_robustness.html").read_text(errors="replace")
    assert re.search(r"The paper(&#8217;|’|')s claim \(Table \d\) that", text)
    for pre in re.findall(r"<pre>(.*?)</pre>", text, flags=re.S):
        assert "claim that" not in pre, "a verdict is printed as code output"


def test_parameters_are_shown_once(html_root):
    page = (html_root / "book" / "02_training.html").read_text(errors="replace")
    assert "injected-parameters" not in page and 'profile = "quick"' not in page


def test_every_page_renders_in_headless_chromium_at_1280_px(html_root, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("headless Chromium is not installed and could not be installed (`make test` tries apt-get)")
    from PIL import Image

    for entry in runbook.toc_entries():
        shot = tmp_path / f"{entry.replace('/', '_')}.png"
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900",
               f"--screenshot={shot}", (html_root / f"{entry}.html").as_uri()]
        subprocess.run(cmd, capture_output=True, timeout=120)
        assert shot.exists() and shot.stat().st_size > 0, f"Chromium wrote no screenshot of {entry}"
        image = Image.open(shot).convert("L")
        assert image.size == (1280, 900)
        histogram = image.histogram()
        assert max(histogram) / sum(histogram) < 0.98, f"{entry}: the screenshot is (almost) one colour"
        assert sum(histogram[:100]) > 0.001 * sum(histogram), f"{entry}: no text is visible"
