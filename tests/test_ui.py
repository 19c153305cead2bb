"""The Dagster UI in a real browser: the asset graph shows the layers and the marts, a mart's page its column
descriptions. Headless Chromium (Debian's package) driven by Playwright; screenshots go to test-artifacts/ui/.

The web server is started on 127.0.0.1 with default signal handlers restored in the child (a server started from a
non-interactive shell ignores SIGINT/SIGTERM otherwise) and stopped by its own pid.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zlib
from pathlib import Path

import pytest

from assets.resources import REPO_ROOT
from schemas import PUBLISHED_TABLES

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("ALMS_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts")) / "ui"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.fixture(scope="module")
def webserver(small_run, tmp_path_factory):
    """One Dagster web server for the module, on a copy of small_run's instance home (its run's materializations and
    metadata are what the pages show) with small_run's settings."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); CI installs it")
    tmp_path = tmp_path_factory.mktemp("webserver")
    home = shutil.copytree(small_run.home, tmp_path / "dagster_home")
    environ = {key: value for key, value in os.environ.items() if not key.startswith("ALMS_")}
    environ.update({**small_run.env, "DAGSTER_HOME": str(home), "PYTHONPATH": str(REPO_ROOT)})
    port = _free_port()
    log = (tmp_path / "webserver.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_webserver",
            "-w",
            str(REPO_ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO_ROOT,
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_default_signals,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "the Dagster web server did not start:\n" + (tmp_path / "webserver.log").read_text()[-3000:]
                )
            time.sleep(0.5)
        yield url
    finally:
        os.kill(process.pid, signal.SIGTERM)  # its own pid, not a process-name match
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser(webserver):
    """One headless Chromium for the module (each test opens its own page)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def new_page(browser, height: int):
    """A page whose clicks first close the UI's one-time community dialog when it has opened (a moment after some
    first page, over whatever is there)."""
    page = browser.new_page(viewport={"width": 1600, "height": height})
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
    return page


def open_in_app(page, path: str) -> None:
    """Go to `path` inside the page's running UI (the router follows history, as after a click on a link) instead of
    loading the UI's scripts again: a full load costs Chromium about a CPU second."""
    page.evaluate("path => { history.pushState({}, '', path); dispatchEvent(new PopStateEvent('popstate')) }", path)


def test_asset_graph_shows_layers_and_marts_and_a_mart_page_its_columns(webserver, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = new_page(browser, height=1000)
    try:
        page.goto(f"{webserver}/asset-groups", wait_until="domcontentloaded")
        for group in ("raw", "staging", "intermediate", "marts"):
            page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "asset_graph.png"), full_page=True)
        # the marts layer: every published table and the publication (its list; the graph draws only what is in view)
        page.set_viewport_size({"width": 1600, "height": 3000})  # the list draws only the rows in view
        open_in_app(page, "/locations/alms/asset-groups/marts/list")
        page.get_by_text("marts / accounts", exact=True).first.wait_for(timeout=60_000)
        listed = page.inner_text("body")
        for mart in PUBLISHED_TABLES:
            assert f"marts / {mart[1]}" in listed, f"{mart[1]} is not in the marts layer"
        assert "marts / publication" in listed, "the publication is not in the marts layer"
        page.set_viewport_size({"width": 1600, "height": 1000})
        open_in_app(page, "/assets/marts/account_scores")
        description = "Weighted score over the criteria present (0-100)."
        page.get_by_text(description).first.wait_for(timeout=60_000)
        page.get_by_text("priority_score").first.wait_for(timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / "account_scores.png"), full_page=True)
        # a SQL model's column lineage: the definition's column_lineage table, opened from its metadata row
        open_in_app(page, "/assets/intermediate/int_accounts_aggregated")
        page.locator("tr", has_text="column_lineage").get_by_text("[Show Markdown]").first.click()
        dialog = page.get_by_role("dialog").filter(has_text="traced back to the inputs")
        row = dialog.locator("tr", has_text="billing_12m").first
        row.wait_for(timeout=30_000)
        assert "intermediate.int_billing_lines_windowed.billing_amount" in row.inner_text()
        assert "raw.fx_rates.rate_to_reporting" in row.inner_text()
        page.screenshot(path=str(ARTIFACTS / "column_lineage.png"))
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
        raise
    finally:
        page.close()
    graph, scores = (png_rows(ARTIFACTS / name) for name in ("asset_graph.png", "account_scores.png"))
    for width, height, distinct in (graph, scores):  # a page drawn, not a blank or one-colour screenshot
        assert width == 1600 and height >= 1000 and distinct > 100, (width, height, distinct)
    assert (ARTIFACTS / "asset_graph.png").read_bytes() != (ARTIFACTS / "account_scores.png").read_bytes()


def png_rows(path: Path) -> tuple[int, int, int]:
    """Width, height and the number of distinct pixel rows of an 8-bit RGB(A) PNG (a blank page has a handful)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    position, chunks = 8, {}
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        chunks.setdefault(kind, []).append(data[position + 8 : position + 8 + length])
        position += 12 + length
    header = chunks[b"IHDR"][0]
    width, height, depth, colour = (
        int.from_bytes(header[:4], "big"),
        int.from_bytes(header[4:8], "big"),
        header[8],
        header[9],
    )
    assert depth == 8 and colour in (2, 6), (depth, colour)
    raw = zlib.decompress(b"".join(chunks[b"IDAT"]))
    stride = 1 + width * (4 if colour == 6 else 3)  # a filter byte, then the pixels
    return width, height, len({raw[i : i + stride] for i in range(0, len(raw), stride)})


PICTURES = {  # mart -> the metadata entries whose Markdown holds a picture (assets/rules/pictures.py)
    "accounts": ["billing_concentration"],
    "seller_account_lists": ["tier_mix_per_seller"],
    "account_changes": ["key_level_crossings"],
}


def test_the_pictures_render_on_the_mart_pages(webserver, browser):
    """Dagster 1.13 lists Markdown metadata on the asset's Overview (Metadata table) as "[Show Markdown]"; the dialog
    it opens renders the Markdown, here an inline PNG: the browser must decode it (naturalWidth > 0). The pictures are
    small_run's."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = new_page(browser, height=1400)
    try:
        for number, (mart, entries) in enumerate(PICTURES.items()):
            if number == 0:
                page.goto(f"{webserver}/assets/marts/{mart}", wait_until="domcontentloaded")
            else:
                open_in_app(page, f"/assets/marts/{mart}")
            for entry in entries:
                key = page.get_by_text(entry, exact=True).first
                key.wait_for(timeout=60_000)
                key.scroll_into_view_if_needed()
                key.locator("xpath=ancestor::tr[1]").get_by_text("[Show Markdown]").click()
                dialog = page.get_by_role("dialog").filter(has_text=entry)
                picture = dialog.locator("img[src^='data:image/png']").first
                picture.wait_for(timeout=30_000)
                page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=picture.element_handle())
                size = picture.evaluate("i => [i.naturalWidth, i.naturalHeight]")
                assert size == [800, 450], (mart, entry, size)
                page.screenshot(path=str(ARTIFACTS / f"picture_{entry}.png"))
                dialog.get_by_role("button", name="Close").click()
                dialog.wait_for(state="detached", timeout=10_000)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "pictures_failure.png"), full_page=True)
        raise
    finally:
        page.close()
    for entry in (e for entries in PICTURES.values() for e in entries):
        width, height, distinct = png_rows(ARTIFACTS / f"picture_{entry}.png")
        assert width == 1600 and distinct > 100, (entry, width, height, distinct)
