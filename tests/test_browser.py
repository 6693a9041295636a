"""The explorer in a real browser: Debian's chromium driven by Playwright against JupyterLab (and
Voila) on 127.0.0.1, on notebook 04 as Binder opens it (unparameterised: the shipped sample with the
shipped model). Skipped where chromium or Playwright is missing, except in CI, where it fails."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

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
    """A folder with notebook 04 as it is committed (Binder opens it so), and JupyterLab settings
    that keep its news toast from covering the page."""
    folder = tmp_path_factory.mktemp("explorer")
    shutil.copy(ROOT / "notebooks" / "04_explorer.ipynb", folder / "explorer.ipynb")
    settings = folder / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                          "checkForUpdates": False}))
    return folder


@pytest.fixture(scope="module")
def shipped_default():
    """What the explorer shows first (the first class's first structure, pristine), computed with
    the library: its sid, its true class and the shipped model's class."""
    pytest.importorskip("nglview")
    from paper_lib.widgets import Explorer

    explorer = Explorer(viewer=False)
    state = explorer.state()
    row = explorer.index.table.iloc[state["entry"]]
    return {"sid": int(row["sid"]), "label": row["label"], "prediction": state["prediction"],
            "classes": list(explorer.model.classes)}


def serve(command, folder, url_ok):
    """Start a server, wait until ``url_ok`` answers; returns the process."""
    env = dict(os.environ, JUPYTER_PLATFORM_DIRS="1", JUPYTERLAB_SETTINGS_DIR=str(Path(folder) / "lab-settings"))
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


def check_explorer(page, console, name, default):
    """The explorer's controls, 3D canvas and images render; it shows the shipped model's class for
    the default structure; the probabilities are all visible; changing the class changes the picture."""
    try:
        _check_explorer(page, console, name, default)
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"explorer-{name}-failed.png"), full_page=True)
        (ARTIFACTS / f"explorer-{name}-console.txt").write_text("\n".join(console))
        raise


#: Every class name and probability cell of the prediction box that is not fully visible: outside
#: the viewport, outside an ancestor that clips (overflow not visible), or covered by another
#: element at its centre; and every box from the table up to the page whose content is wider than
#: itself (scrollWidth > clientWidth: a clipped or scrolled row).
HIDDEN_CELLS = """() => {
  const table = document.querySelector('.paperlib-probabilities');
  const problems = [];
  const cells = [...table.querySelectorAll('td.paperlib-class, td.paperlib-probability')];
  for (const cell of cells) {
    const r = cell.getBoundingClientRect();
    const what = `${cell.className} '${cell.innerText}' [${Math.round(r.left)}, ${Math.round(r.right)}]`;
    if (r.width < 1 || r.left < 0 || r.right > window.innerWidth + 0.5 || r.top < 0 || r.bottom > window.innerHeight + 0.5)
      problems.push(`${what} outside the viewport ${window.innerWidth} x ${window.innerHeight}`);
    for (let el = cell.parentElement; el && el !== document.body; el = el.parentElement) {
      const style = getComputedStyle(el);
      if (style.overflowX === 'visible' && style.overflowY === 'visible') continue;
      const b = el.getBoundingClientRect();
      if (r.left < b.left - 0.5 || r.right > b.right + 0.5)
        problems.push(`${what} outside ${el.className.slice(0, 80)} [${Math.round(b.left)}, ${Math.round(b.right)}]`);
    }
    const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
    if (!hit || !cell.contains(hit)) problems.push(`${what} covered by ${hit ? hit.className : 'nothing'}`);
  }
  for (let el = table; el && el !== document.body; el = el.parentElement)
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
      problems.push(`${el.className.slice(0, 80)}: content ${el.scrollWidth} px wide in ${el.clientWidth} px`);
  return {cells: cells.length, problems};
}"""


def check_probabilities_visible(page, name, classes):
    """At 1500 and 1280 px wide (JupyterLab beside its file browser leaves the output 1022 and 848
    px): every class name and probability of the prediction box is visible; a screenshot of each."""
    explorer = page.locator(".paperlib-explorer")
    table = explorer.locator(".paperlib-probabilities")
    for width in (1500, 1280):
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(1000)                                  # let the layout settle
        table.scroll_into_view_if_needed(timeout=120_000)       # a loaded 2-core machine can stall the page
        found = page.evaluate(HIDDEN_CELLS)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"explorer-{name}-{width}px.png"))
        assert found["cells"] == 2 * len(classes) and not found["problems"], (width, found)
        rows = table.locator("tr")
        assert rows.count() == len(classes)
        shown = []
        for i in range(rows.count()):
            label, p = rows.nth(i).locator("td.paperlib-class"), rows.nth(i).locator("td.paperlib-probability")
            assert label.is_visible() and p.is_visible()
            box = p.bounding_box()
            assert 0 <= box["x"] and box["x"] + box["width"] <= width, (width, box)
            shown.append(label.inner_text())
            assert 0 <= float(p.inner_text()) <= 1
        assert sorted(shown) == sorted(classes), shown


def _check_explorer(page, console, name, default):
    explorer = page.locator(".paperlib-explorer")
    explorer.wait_for(timeout=180_000)
    # the shipped model's class for the default structure (the first class's first structure)
    status = explorer.locator(".widget-html").first
    page.wait_for_function(f"() => {EXPLORER}.querySelector('.widget-html').innerText.includes('predicted')",
                           timeout=120_000)
    assert f"structure {default['sid']} ({default['label']})" in status.inner_text()
    assert f"predicted {default['prediction']}" in status.inner_text()
    assert default["prediction"] == default["label"]                 # and it is the true class
    assert "the shipped sample" in status.inner_text() and "the shipped model" in status.inner_text()
    check_probabilities_visible(page, name, default["classes"])
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


def test_explorer_in_jupyterlab(explorer_folder, shipped_default):
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
            check_explorer(page, console, "jupyterlab", shipped_default)
            browser.close()
    finally:
        stop(lab)


def test_explorer_in_voila(explorer_folder, shipped_default):
    port = free_port()
    voila = serve([sys.executable, "-m", "voila", "explorer.ipynb", "--no-browser", f"--port={port}",
                   "--Voila.ip=127.0.0.1"], explorer_folder, f"http://127.0.0.1:{port}/")
    try:
        with sync_api.sync_playwright() as p:
            browser, page, console = open_page(p)
            page.goto(f"http://127.0.0.1:{port}/", timeout=180_000)
            check_explorer(page, console, "voila", shipped_default)
            browser.close()
    finally:
        stop(voila)
