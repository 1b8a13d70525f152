"""Slow: the built book in headless Chromium (Debian's /usr/bin/chromium, or $CHROMIUM), served
from 127.0.0.1: each page exists, MathJax has typeset every formula with no network, every image
loaded, nothing was fetched from another host. Full-page screenshots go to _build/screenshots/."""

from __future__ import annotations

import functools
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest

from conftest import ROOT, toc_files

pytestmark = pytest.mark.slow
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# sphinx-thebe (bundled by Jupyter Book 1) writes its inline config script twice on every page; the
# second copy throws this. Harmless: thebe is off, nothing is fetched. Any other page error fails.
KNOWN_PAGE_ERRORS = {"Identifier 'THEBE_JS_URL' has already been declared"}
SCREENSHOTS = ROOT / "_build" / "screenshots"
PAGES = toc_files(ROOT / "_toc.yml")

# Text a reader sees outside code, MathJax output and scripts: raw TeX left here was not typeset.
VISIBLE_PROSE = """() => {
  const body = document.querySelector('main') || document.body;
  const copy = body.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, mjx-container, .cell_input').forEach(e => e.remove());
  return copy.textContent;
}"""
# Wait for every image, lazy ones included, for at most 15 s; report those that did not load.
BROKEN_IMAGES = """async () => {
  const imgs = [...document.images];
  imgs.forEach(img => { img.loading = 'eager'; });
  const done = Promise.all(imgs.map(img => img.complete ? null :
      new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r); })));
  await Promise.race([done, new Promise(r => setTimeout(r, 15000))]);
  return imgs.filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src);
}"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(book):
    project, proc = book
    assert proc.returncode == 0, "the book did not build"
    handler = functools.partial(_QuietHandler, directory=str(project / "_build" / "html"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium when run as root; "
                    "or set CHROMIUM to a Chromium/Chrome executable")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync"])
        yield browser
        browser.close()


@pytest.mark.parametrize("page_file", PAGES)
def test_page_renders_offline(site, browser, page_file):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    foreign: list[str] = []

    def only_local(route):
        url = urlparse(route.request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname != "127.0.0.1":
            foreign.append(route.request.url)
            return route.abort()
        return route.continue_()

    context.route("**/*", only_local)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: None if str(exc) in KNOWN_PAGE_ERRORS else errors.append(str(exc)))
    try:
        response = page.goto(f"{site}/{page_file}.html", wait_until="load")
        assert response is not None and response.ok, f"{page_file}.html: HTTP {response and response.status}"
        if page.locator(".math").count():  # Sphinx's math nodes: MathJax must have typeset each one
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                   timeout=30_000)
            page.evaluate("() => MathJax.startup.promise.then(() => true)")
            untypeset = page.evaluate("() => [...document.querySelectorAll('.math')]"
                                      ".filter(e => !e.querySelector('mjx-container')).map(e => e.textContent)")
            assert untypeset == [], f"math left untypeset: {untypeset[:3]}"
            assert page.locator("mjx-merror").count() == 0, "MathJax reported a TeX error"
        prose = page.evaluate(VISIBLE_PROSE)
        for raw in ("$$", "\\["):
            assert raw not in prose, f"raw {raw} left in the text"
        assert page.evaluate(BROKEN_IMAGES) == []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{Path(page_file).name}.png"), full_page=True)
        assert foreign == [], f"requests left 127.0.0.1: {foreign}"
        assert errors == [], f"JavaScript errors: {errors}"
    finally:
        context.close()
