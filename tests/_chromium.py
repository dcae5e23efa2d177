"""A headless Chromium driven over the DevTools protocol on a pipe, for the browser tests.

No web driver and no websocket library: Chromium reads commands on file descriptor 3 and
writes answers on 4 (``--remote-debugging-pipe``), one JSON message per NUL-terminated
chunk. Enough of the protocol for the report tests: open a page, evaluate a script, set
the viewport and the media (screen or print), take a full-page screenshot, print to PDF.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

A4_WIDTH_PX = 718
"""The width of an A4 page's text (210 mm less 12 mm margins each side) in CSS pixels."""


class Chromium:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, profile: Path, timeout: float = 120) -> None:
        assert CHROMIUM is not None
        commands_r, self._commands = os.pipe()
        self._answers, answers_w = os.pipe()

        def wire() -> None:  # in the child: the pipes become fds 3 and 4
            low = fcntl.fcntl(commands_r, fcntl.F_DUPFD_CLOEXEC, 10)
            high = fcntl.fcntl(answers_w, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(low, 3)  # dup2 leaves 3 and 4 open across exec
            os.dup2(high, 4)

        self._process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--font-render-hinting=none",
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire,  # a single-threaded test helper
            close_fds=False,  # Python's own descriptors are not inherited (PEP 446)
        )
        os.close(commands_r)
        os.close(answers_w)
        self._timeout = timeout
        self._buffer = b""
        self._next = 0
        self._events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the browser and wait for it to end."""
        with contextlib.suppress(OSError, RuntimeError):
            self.call("Browser.close")
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck browser
            self._process.kill()
            self._process.wait()
        os.close(self._commands)
        os.close(self._answers)

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        found: dict[str, Any] = json.loads(message)
        return found

    def call(self, method: str, *, session: bool = False, **params: Any) -> dict[str, Any]:
        """Send one command and return its result; raise ``RuntimeError`` on an error."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            self._events.append(answer)

    def _wait_for(self, event: str) -> None:
        while True:
            for i, seen in enumerate(self._events):
                if seen.get("method") == event:
                    del self._events[: i + 1]
                    return
            self._events.append(self._read())

    def open(self, page: Path, *, width: int = 1280, height: int = 900, media: str = "") -> None:
        """Load ``page`` at a viewport of ``width`` by ``height`` CSS pixels, as ``media``
        (``'print'`` to lay it out as printed, ``''`` for the screen)."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Emulation.setEmulatedMedia", session=True, media=media)
        self._events.clear()
        self.call("Page.navigate", session=True, url=page.as_uri())
        self._wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        found = self.call(
            "Runtime.evaluate",
            session=True,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in found:
            raise RuntimeError(str(found["exceptionDetails"])[:2000])
        return found["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """Save a PNG of the whole page (not only the viewport) to ``path``."""
        size = self.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
        )
        shot = self.call(
            "Page.captureScreenshot",
            session=True,
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1},
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def pdf(self, path: Path) -> int:
        """Print the page to ``path`` as Chromium prints it (the page's own A4 size and
        margins, no browser header or footer) and return its number of pages."""
        printed = self.call(
            "Page.printToPDF",
            session=True,
            preferCSSPageSize=True,
            printBackground=True,
            displayHeaderFooter=False,
        )
        data = base64.b64decode(printed["data"])
        path.write_bytes(data)
        return pdf_pages(data)


def pdf_pages(data: bytes) -> int:
    """The number of pages of a PDF Chromium wrote (its page objects)."""
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", data))
