"""The review page in a real headless browser (Debian's chromium, driven by chromedriver over the W3C WebDriver
HTTP protocol with the standard library only): it loads, shows every thumbnail, and the selection it downloads
round-trips through ``requests apply --selection``.

Needs ``apt-get install chromium chromium-driver``; without them the test is skipped and says so.
"""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_requests_e2e import cli_json, invoke, new, world  # noqa: F401  (world is a fixture)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="browser test not run: Debian's chromium and chromium-driver are not installed "
           "(apt-get install -y chromium chromium-driver)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    def __init__(self, base: str) -> None:
        self.base = base
        self.session = ""

    def call(self, method: str, path: str, body=None, timeout: float = 60):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"{}").get("value")

    def s(self, method: str, path: str, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def script(self, js: str, *args):
        return self.s("POST", "/execute/sync", {"script": js, "args": list(args)})

    def find_all(self, css: str) -> list[str]:
        found = self.s("POST", "/elements", {"using": "css selector", "value": css})
        return [next(iter(e.values())) for e in found]

    def click(self, element: str) -> None:
        self.s("POST", f"/element/{element}/click", {})


@pytest.fixture
def browser(tmp_path: Path):
    port = _free_port()
    log = open(tmp_path / "chromedriver.log", "w")
    proc = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=log, stderr=subprocess.STDOUT)
    drv = WebDriver(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if drv.call("GET", "/status", timeout=2).get("ready"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("chromedriver did not start: " + (tmp_path / "chromedriver.log").read_text())
            time.sleep(0.1)
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", f"--user-data-dir={tmp_path / 'profile'}"]
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM, "args": args,
            "prefs": {"download.default_directory": str(downloads), "download.prompt_for_download": False}}}}}
        created = drv.call("POST", "/session", caps, timeout=120)
        drv.session = created["sessionId"]
        drv.s("POST", "/goog/cdp/execute", {"cmd": "Browser.setDownloadBehavior",
                                             "params": {"behavior": "allow", "downloadPath": str(downloads)}})
        drv.downloads = downloads  # type: ignore[attr-defined]
        yield drv
    finally:
        if drv.session:
            try:
                drv.call("DELETE", f"/session/{drv.session}", timeout=30)
            except OSError:
                pass
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_review_page_in_chromium_round_trips_the_selection(world, browser):  # noqa: F811
    req = new(world, "objection", "2024-06-01T10:00:00Z", "2024-06-01T10:00:11Z", "hq")
    found = cli_json("requests", "find", req["id"], "-c", world["cfg"])
    seg_ids = [s["id"] for s in found["segments"]]
    assert len(seg_ids) == 2
    page = cli_json("requests", "review", req["id"], "-c", world["cfg"], "--every", "0.5")

    browser.s("POST", "/url", {"url": Path(page["page"]).as_uri()})
    state = browser.script(
        "return {title: document.title,"
        " imgs: Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight]),"
        " captions: Array.from(document.querySelectorAll('figcaption')).map(c => c.textContent),"
        " boxes: Array.from(document.querySelectorAll('input.segment-choice')).map(b => [b.value, b.checked])};")
    assert req["id"] in state["title"]
    assert len(state["imgs"]) == page["thumbnails"] >= 4
    assert all(ok and w > 0 and h > 0 for ok, w, h in state["imgs"]), state["imgs"]  # every JPEG decoded
    assert all("+" in c and "2024-06-01 12:00" in c and "CEST" in c for c in state["captions"])  # local time
    assert sorted(v for v, _ in state["boxes"]) == sorted(seg_ids) and not any(c for _, c in state["boxes"])

    boxes = browser.find_all("input.segment-choice")
    browser.click(boxes[1])
    chosen = browser.script("return document.querySelectorAll('input.segment-choice')[1].value;")
    shown = json.loads(browser.script("return document.getElementById('selection').textContent;"))
    assert shown == {"request": req["id"], "segments": [chosen]}
    browser.click(browser.find_all("#download")[0])

    target = browser.downloads / f"selection-{req['id']}.json"
    deadline = time.monotonic() + 20
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert target.exists(), os.listdir(browser.downloads)
    selection = json.loads(target.read_text())
    assert selection == {"request": req["id"], "segments": [chosen]}

    plan = cli_json("requests", "apply", req["id"], "-c", world["cfg"], "--selection", str(target), "--dry-run")
    assert [p["segment"] for p in plan["segments"]] == [chosen]
