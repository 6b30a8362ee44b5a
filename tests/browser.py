"""Headless Chromium over the DevTools protocol on a pipe (no extra package): load a page, check it as a person would.

Used by the page tests through conftest's `browser` fixture. `check_page`
loads a file:// page with name resolution switched off (nothing can leave
the machine), waits for every <audio> to load its metadata, and reports
console errors, requests that are not file://, audio durations, image sizes
and links; `screenshot` saves the page as a PNG.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")

PROBE = """
(async () => {
  const audios = [...document.querySelectorAll('audio')];
  await Promise.all(audios.map(a => a.readyState >= 1 || a.error ? null : new Promise(done => {
    a.addEventListener('loadedmetadata', done, {once: true});
    a.addEventListener('error', done, {once: true});
    setTimeout(done, 15000);
  })));
  const images = [...document.images];
  images.forEach(i => { i.loading = 'eager'; });  // lazy images below the fold: load them to see they decode
  await Promise.all(images.map(i => i.complete ? null : new Promise(done => {
    i.addEventListener('load', done, {once: true}); i.addEventListener('error', done, {once: true}); setTimeout(done, 15000);
  })));
  const labelled = a => !!(a.id && document.querySelector(`label[for="${a.id}"]`)) || !!a.getAttribute('aria-label');
  return JSON.stringify({
    audio: audios.map(a => ({src: a.getAttribute('src'), duration: a.duration, error: a.error ? a.error.code : null,
                             labelled: labelled(a), controls: a.controls})),
    images: images.map(i => ({src: i.getAttribute('src'), width: i.naturalWidth, alt: i.getAttribute('alt')})),
    links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
    title: document.title, text: document.body.innerText.length,
  });
})()
"""


def find_chromium() -> str | None:
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


@dataclass
class PageReport:
    audio: list[dict[str, Any]]
    images: list[dict[str, Any]]
    links: list[str]
    title: str
    text: int
    console_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)


def _onto_3_and_4(read: int, write: int) -> None:
    """In the child: the pipes on descriptors 3 and 4, where --remote-debugging-pipe expects them."""
    read, write = os.dup(read), os.dup(write)  # neither may already sit on 3 or 4
    os.dup2(read, 3)
    os.dup2(write, 4)


class Browser:
    """One headless Chromium, spoken to over --remote-debugging-pipe (fd 3 in, fd 4 out)."""

    def __init__(self, executable: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="aea-chromium-")
        to_browser_read, self._write = os.pipe()
        self._read, from_browser_write = os.pipe()
        flags = [
            "--headless=new",
            "--remote-debugging-pipe",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--allow-file-access-from-files",
            "--mute-audio",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--disable-background-networking",
            "--disable-component-update",
            f"--user-data-dir={self.profile}",
            "--window-size=1280,900",
            "about:blank",
        ]
        os.set_inheritable(to_browser_read, True)
        os.set_inheritable(from_browser_write, True)
        self.process = subprocess.Popen(
            [executable, *flags],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),  # the descriptors preexec_fn puts the pipes on
            preexec_fn=lambda: _onto_3_and_4(to_browser_read, from_browser_write),
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer, self._next_id, self.events = b"", 0, []
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"}, timeout=30)["targetId"]
            self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Network", "Log"):
                self.call(f"{domain}.enable", session=True)
        except (RuntimeError, TimeoutError, OSError):
            self.close()
            raise

    def _message(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._read], [], [], remaining)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed its pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: bool = False, timeout: float = 60
    ) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._message(timeout)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _wait_for(self, method: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._message(deadline - time.monotonic()))

    def check_page(self, page: Path) -> PageReport:
        self.events = []
        self.call("Page.navigate", {"url": page.resolve().as_uri()}, session=True)
        self._wait_for("Page.loadEventFired")
        result = self.call(
            "Runtime.evaluate",
            {"expression": PROBE, "awaitPromise": True, "returnByValue": True},
            session=True,
            timeout=90,
        )
        report = PageReport(**json.loads(result["result"]["value"]))
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                report.console_errors.append(str(params.get("args")))
            elif method == "Runtime.exceptionThrown":
                report.console_errors.append(str(params.get("exceptionDetails", {}).get("text")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                report.console_errors.append(params["entry"].get("text", ""))
            elif method == "Network.requestWillBeSent":
                url = params.get("request", {}).get("url", "")
                if not url.startswith(("file:", "data:", "about:", "blob:")):
                    report.outside_requests.append(url)
        return report

    def screenshot(self, path: Path, width: int = 1280) -> Path:
        metrics = self.call("Page.getLayoutMetrics", session=True)
        height = min(int(metrics["cssContentSize"]["height"]), 4000)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=True,
        )
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=True)[
            "data"
        ]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for descriptor in (self._read, self._write):
            try:
                os.close(descriptor)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


def problems(report: PageReport, page: Path) -> list[str]:
    """What a person would find wrong with a loaded page: errors, requests out, dead players, images, links."""
    from urllib.parse import unquote

    import soundfile

    found = [f"console error: {error}" for error in report.console_errors]
    found += [f"request leaves the machine: {url}" for url in report.outside_requests]
    for audio in report.audio:
        file = page.parent / unquote(audio["src"] or "")
        if audio["error"] is not None or not file.is_file():
            found.append(f"audio {audio['src']} does not load (error {audio['error']})")
            continue
        expected = soundfile.info(str(file)).duration
        if audio["duration"] is None or not abs(audio["duration"] - expected) <= 0.01 * expected:
            found.append(f"audio {audio['src']}: the browser says {audio['duration']} s, the file {expected:.3f} s")
        if not (audio["controls"] and audio["labelled"]):
            found.append(f"audio {audio['src']} has no controls or no label")
    found += [f"image {image['src']} does not decode" for image in report.images if not image["width"] > 0]
    found += [f"image {image['src']} has no alt text" for image in report.images if not image["alt"]]
    found += [
        f"link {href} goes nowhere"
        for href in report.links
        if not href.startswith("#") and not (page.parent / unquote(href.split("#")[0])).exists()
    ]
    return found
