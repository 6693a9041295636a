"""The explorer in a real browser: Debian's chromium driven by Playwright against JupyterLab (and
Voila) on 127.0.0.1. Skipped where chromium or Playwright is missing, except in CI, where it fails."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import tiny_results

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
EXPLORER = "document.querySelector('.paperlib-explorer')"
WIDGET_ERRORS = ("not registered", "Failed to load model", "Could not create a model", "Error rendering")

if not (Path(CHROMIUM).exists() and shutil.which("jupyter", path=str(Path(sys.executable).parent))):
    if os.environ.get("CI"):
        pytest.fail("CI needs Debian's chromium and JupyterLab for the browser test (.ci/run installs them)",
                    pytrace=False)
    pytest.skip("no chromium here", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def explorer_folder(tmp_path_factory):
    """A folder with tiny results (structures, fingerprints; the shipped model) and the explorer
    notebook with its parameters pointing there."""
    folder = tmp_path_factory.mktemp("explorer")
    results = tiny_results(folder)
    subprocess.run([sys.executable, "-m", "papermill", "--prepare-only", "-k", "python3",
                    ROOT / "notebooks" / "04_explorer.ipynb", folder / "explorer.ipynb",
                    "-p", "preset", "tiny", "-p", "results", str(results)], check=True, capture_output=True)
    return folder


def serve(command, folder, url_ok):
    """Start a server, wait until ``url_ok`` answers; returns the process."""
    env = dict(os.environ, JUPYTER_PLATFORM_DIRS="1")
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "lab" in command:
        command = [*command, "--allow-root"]            # CI containers run as root
    log = open(Path(folder) / f"{Path(command[2]).name}-server.log", "w")
    process = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url_ok, timeout=2)
            return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{' '.join(map(str, command[:4]))} exited with {process.returncode}:\n"
                                   + Path(log.name).read_text()[-3000:])
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"{url_ok} did not answer in 120 s")


def stop(process):
    try:
        os.killpg(process.pid, 15)
        process.wait(20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, 9)


def launch(playwright):
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=["--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader",
              "--disable-background-networking", "--disable-component-update", "--no-first-run"])


def open_page(p):
    """Chromium with one page; returns the browser, the page and the list its console messages go to."""
    browser = launch(p)
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    console = []
    page.on("console", lambda m: console.append(m.text))
    return browser, page, console


def check_explorer(page, console, name):
    """The explorer's controls, 3D canvas and images render; changing the class changes the picture."""
    try:
        _check_explorer(page, console, name)
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"explorer-{name}-failed.png"), full_page=True)
        (ARTIFACTS / f"explorer-{name}-console.txt").write_text("\n".join(console))
        raise


def _check_explorer(page, console, name):
    explorer = page.locator(".paperlib-explorer")
    explorer.wait_for(timeout=180_000)
    assert explorer.locator("select").count() >= 5                  # class, defect, level, layer, filter
    assert explorer.locator(".widget-slider").count() >= 1           # structure
    canvas = explorer.locator("canvas")
    canvas.first.wait_for(timeout=60_000)                            # nglview's WebGL stage
    page.wait_for_function(f"() => {{ const c = {EXPLORER}.querySelector('canvas'); "
                           "return c && c.getBoundingClientRect().width > 100 && c.getBoundingClientRect().height > 100; }",
                           timeout=60_000)
    images = explorer.locator("img")
    page.wait_for_function(f"() => {EXPLORER}.querySelectorAll('img').length >= 2 && "
                           f"[...{EXPLORER}.querySelectorAll('img')].every(i => i.naturalWidth > 0)", timeout=60_000)
    before = images.first.get_attribute("src")
    status_before = explorer.locator(".widget-html").first.inner_text()
    class_select = explorer.locator("select").first
    options = class_select.locator("option").all_inner_texts()
    # a busy 2-core machine renders WebGL in software (swiftshader) and can stall the page for a while
    class_select.select_option(label=options[-1], timeout=120_000)
    page.wait_for_function(f"src => {EXPLORER}.querySelector('img').getAttribute('src') !== src",
                           arg=before, timeout=60_000)
    page.wait_for_function(f"text => {EXPLORER}.querySelector('.widget-html').innerText !== text",
                           arg=status_before, timeout=60_000)
    assert options[-1] in explorer.locator(".widget-html").first.inner_text()
    page.wait_for_timeout(1500)                                      # let the 3D view redraw
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"explorer-{name}.png"), full_page=True)
    errors = [m for m in console if any(e in m for e in WIDGET_ERRORS)]
    assert not errors, errors


def test_explorer_in_jupyterlab(explorer_folder):
    port, token = free_port(), "paperlib-test"
    lab = serve([sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                 f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={explorer_folder}",
                 "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
                explorer_folder, f"http://127.0.0.1:{port}/api/status?token={token}")
    try:
        with sync_api.sync_playwright() as p:
            browser, page, console = open_page(p)
            page.goto(f"http://127.0.0.1:{port}/lab/tree/explorer.ipynb?token={token}")
            page.locator(".jp-Notebook").wait_for(timeout=120_000)
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
            cells = page.locator(".jp-Notebook .jp-Cell")
            cells.first.click()                                   # command mode on the first cell
            for _ in range(cells.count()):                        # run every cell, top to bottom
                page.keyboard.press("Shift+Enter")
            check_explorer(page, console, "jupyterlab")
            browser.close()
    finally:
        stop(lab)


def test_explorer_in_voila(explorer_folder):
    port = free_port()
    voila = serve([sys.executable, "-m", "voila", "explorer.ipynb", "--no-browser", f"--port={port}",
                   "--Voila.ip=127.0.0.1"], explorer_folder, f"http://127.0.0.1:{port}/")
    try:
        with sync_api.sync_playwright() as p:
            browser, page, console = open_page(p)
            page.goto(f"http://127.0.0.1:{port}/", timeout=180_000)
            check_explorer(page, console, "voila")
            browser.close()
    finally:
        stop(voila)
