"""The review page in a real headless browser (Debian's chromium, driven by chromedriver over the W3C WebDriver
HTTP protocol with the standard library only): it loads, shows every thumbnail, one row per recording (a raw clip
and its copy ticked together), select-all and the rest from the keyboard, thumbnails a page at a time ("N more"),
larger thumbnails on demand, the face track choice of an access request, and the selection it downloads
round-trips through ``requests apply --selection`` and ``requests export --selection``.

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

from anonymizer.domain.clips import ClipRecord
from anonymizer.pipelines.ingest import sha256_of
from anonymizer.pipelines.requests import read_selection_file
from tests.test_access_copy import _track_of, two_faces  # noqa: F401  (two_faces is a fixture)
from tests.test_requests_e2e import by_uri, catalogue, cli_json, invoke, new, world  # noqa: F401  (world: fixture)

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

    def keys(self, element: str, text: str) -> None:
        """Type into an element as a keyboard would (a space toggles a focused checkbox or presses a button)."""
        self.s("POST", f"/element/{element}/value", {"text": text})

    def wait_download(self, name: str) -> Path:
        """The downloaded file once Chromium has finished writing it.

        Chromium may create the file under its final name before its content is complete (and keeps a
        ``.crdownload`` beside it while writing), so the wait is for a complete, parseable JSON document, not
        for the name alone."""
        target = self.downloads / name  # type: ignore[attr-defined]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            writing = any(p.suffix == ".crdownload" for p in self.downloads.iterdir())  # type: ignore[attr-defined]
            if target.exists() and not writing:
                try:
                    json.loads(target.read_text())
                    return target
                except ValueError:
                    pass  # still being written
            time.sleep(0.1)
        raise AssertionError(f"{name} not downloaded completely: {os.listdir(self.downloads)}")  # type: ignore[attr-defined]


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

    target = browser.wait_download(f"selection-{req['id']}.json")
    selection = json.loads(target.read_text())
    assert selection == {"request": req["id"], "segments": [chosen]}

    plan = cli_json("requests", "apply", req["id"], "-c", world["cfg"], "--selection", str(target), "--dry-run")
    assert [p["segment"] for p in plan["segments"]] == [chosen]


def test_review_page_rows_select_all_paging_and_keyboard(world, browser):  # noqa: F811
    import shutil as sh
    a = by_uri(world, "a")
    copy_path = world["arch"] / "anonymised" / "a.mp4"
    copy_path.parent.mkdir(parents=True)
    sh.copy(world["clips"]["a"], copy_path)
    with open(copy_path, "ab") as fh:
        fh.write(b"\0")
    sha, size = sha256_of(copy_path)
    copy = ClipRecord(**{**a.__dict__, "id": sha[:16], "sha256": sha, "size": size, "uri": str(copy_path),
                         "state": "anonymised", "derived_from": a.id, "purge_after": None})
    with catalogue(world) as cat, cat.transaction() as conn:
        cat.add_clip(conn, copy)
    req = new(world, "objection", "2024-06-01T10:00:00Z", "2024-06-01T10:00:11Z", "hq")
    found = cli_json("requests", "find", req["id"], "-c", world["cfg"])["segments"]
    assert len(found) == 3  # raw a, its copy, raw b
    seg_of = {s["clip_id"]: s["id"] for s in found}
    page = cli_json("requests", "review", req["id"], "-c", world["cfg"], "--every", "0.05")
    assert page["recordings"] == 2 and page["thumbnails"] == 33 + 21  # a: 1.6 s every 0.05 s; b: its first 1 s
    browser.s("POST", "/url", {"url": Path(page["page"]).as_uri()})
    row = browser.script("return document.querySelector('input.segment-choice[data-segments*=\" \"]').id;")[4:]

    def state():
        return browser.script(
            "return {rows: Array.from(document.querySelectorAll('input.segment-choice')).map("
            "  b => [b.getAttribute('data-segments'), b.checked]),"
            f" visible: Array.from(document.querySelectorAll('#thumbs-{row} figure')).filter(f => !f.hidden).length,"
            f" more: Array.from(document.querySelectorAll('#rec-{row} button.more')).map(b => [b.textContent, b.hidden]),"
            " all: [document.getElementById('select-all').checked, document.getElementById('select-all').indeterminate],"
            " width: document.querySelector('img.thumb').getBoundingClientRect().width,"
            " selection: JSON.parse(document.getElementById('selection').textContent)};")

    st = state()
    assert sorted(r for r, _ in st["rows"]) == sorted([f"{seg_of[a.id]} {seg_of[copy.id]}", seg_of[by_uri(world, "b").id]])
    assert st["visible"] == 12 and st["more"] == [["21 more", False]]
    assert st["width"] == 200
    more = browser.find_all(f"#rec-{row} button.more")[0]
    browser.keys(more, " ")  # keyboard: a focused button pressed with space
    assert state()["visible"] == 24 and state()["more"][0] == ["9 more", False]
    browser.click(more)
    st = state()
    assert st["visible"] == 33 and st["more"][0][1] is True
    assert browser.script("return document.activeElement.tagName;") == "IMG"  # focus moves to the new thumbnails
    browser.click(browser.find_all("#larger")[0])
    assert state()["width"] == 400
    # the raw clip and its copy: one tick selects both
    row_a = next(e for e, (segs, _) in zip(browser.find_all("input.segment-choice"), st["rows"]) if " " in segs)
    browser.keys(row_a, " ")
    st = state()
    assert sorted(st["selection"]["segments"]) == sorted([seg_of[a.id], seg_of[copy.id]])
    assert st["all"] == [False, True]  # some, not all: indeterminate
    browser.keys(browser.find_all("#select-all")[0], " ")
    st = state()
    assert all(c for _, c in st["rows"]) and st["all"] == [True, False]
    assert sorted(st["selection"]["segments"]) == sorted(seg_of.values())
    browser.keys(browser.find_all("#download")[0], "\ue007")  # Enter on the focused button
    selection = json.loads(browser.wait_download(f"selection-{req['id']}.json").read_text())
    plan = cli_json("requests", "apply", req["id"], "-c", world["cfg"], "--selection",
                    str(browser.downloads / f"selection-{req['id']}.json"), "--dry-run")
    assert sorted(p["segment"] for p in plan["segments"]) == sorted(selection["segments"]) == sorted(seg_of.values())


def test_access_review_page_chooses_the_requester_face(two_faces, browser):  # noqa: F811
    astro = _track_of(two_faces, 0)
    browser.s("POST", "/url", {"url": Path(two_faces["page"]["page"]).as_uri()})
    faces = browser.script("return Array.from(document.querySelectorAll('input.track-choice')).map("
                           "b => [b.value, b.getAttribute('data-segment')]);")
    assert sorted(int(v) for v, _ in faces) == [1, 2] and {s for _, s in faces} == {two_faces["seg"]}
    imgs = browser.script("return Array.from(document.querySelectorAll('img.face')).map(i => i.naturalWidth);")
    assert len(imgs) >= 2 and all(w > 0 for w in imgs)  # cropped previews decode
    box = next(e for e, (v, _) in zip(browser.find_all("input.track-choice"), faces) if int(v) == astro)
    browser.keys(box, " ")  # tick the requester's face from the keyboard: the recording is ticked with it
    shown = json.loads(browser.script("return document.getElementById('selection').textContent;"))
    assert shown == {"request": two_faces["rid"], "segments": [two_faces["seg"]],
                     "tracks": {two_faces["seg"]: [astro]}}
    browser.click(browser.find_all("#download")[0])
    target = browser.wait_download(f"selection-{two_faces['rid']}.json")
    assert read_selection_file(target, two_faces["rid"]) == ([two_faces["seg"]], {two_faces["seg"]: [astro]})
    out = two_faces["arch"].parent / "copy"
    r = invoke("requests", "export", two_faces["rid"], "-c", two_faces["cfg"], "--out", str(out),
               "--selection", str(target), "--json")
    assert r.exit_code == 0, r.output
    item = json.loads((out / "manifest.json").read_text())["segments"][0]
    assert item["redaction"]["kept_faces"] == [astro]
