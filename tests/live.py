"""The registry served over real HTTP on 127.0.0.1, and Debian's Chromium to open it:
what the browser tests share.

Chromium comes from the distribution (`make chromium`), never from `playwright install`.
"""

import contextlib
import io
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import zxingcpp
from flask import Flask
from PIL import Image
from playwright.sync_api import Browser, sync_playwright
from werkzeug.serving import make_server

from registry import create_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}


def _static_read_first(app: Flask):
    """The app, its static files read whole before they are sent. A browser that moves on
    drops the favicon's connection mid-answer; the development server then fails with the
    file still open, and its ResourceWarning would fail whichever test runs next."""

    def wsgi(environ, start_response):
        if not environ.get("PATH_INFO", "").startswith("/static/"):
            return app(environ, start_response)
        said: list = []

        def start(status, headers, exc_info=None):
            said[:] = [status, headers, exc_info]
            return lambda data: None

        answer = app(environ, start)
        try:
            body = b"".join(answer)
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()
        start_response(*said)
        return [body]

    return wsgi


@contextlib.contextmanager
def served(sqlite_template: Path, workdir: Path, **settings) -> Iterator[tuple[Flask, str]]:
    """A fresh registry served on 127.0.0.1, its public address being its own: (app, base)."""
    database = workdir / "registry.sqlite3"
    shutil.copy(sqlite_template, database)
    # Bound first, so that the app is built knowing the address its QR codes carry.
    listener = socket.create_server(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{database}",
            "KEYS_DIR": str(workdir / "keys"),
            "PUBLIC_BASE_URL": base,
            **settings,
        }
    )
    server = make_server(
        "127.0.0.1", 0, _static_read_first(app), threaded=True, fd=listener.fileno()
    )
    listener.close()  # the server holds its own copy of the socket
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, base
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        app.extensions["registry.engine"].dispose()


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: the browser tests need Debian's chromium "
            "package. Run `make chromium` (or `apt-get install chromium`)."
        )
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def decode(image: bytes | Image.Image) -> str:
    """The text of the one QR code in an image, read by zxing-cpp (not by our encoder)."""
    if isinstance(image, bytes):
        image = Image.open(io.BytesIO(image))
    found = zxingcpp.read_barcodes(image)
    assert [r.format for r in found] == [zxingcpp.BarcodeFormat.QRCode], found
    return found[0].text
