"""A lean Chromium driver for page-load benchmarks: the DevTools protocol, nothing else.

Playwright instruments every page it drives: it enables the protocol's page, network and runtime
events (every request and console message is reported to its driver process) and runs its
waits for an element inside the page. A student's browser does none of that. This driver opens a
page in a fresh browser context (a new visitor: nothing cached), navigates, and asks the page a
question every ``poll_s`` seconds with ``Runtime.evaluate``; it enables no event domain.

    async with Chromium(CHROMIUM, flags) as browser:
        page = await browser.new_page(1400, 1000)
        await page.navigate(url)
        value = await page.evaluate("document.readyState")
        await page.close()
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import tempfile

_DEVTOOLS_URL = re.compile(rb"DevTools listening on (ws://\S+)")


class CDPError(RuntimeError):
    """The browser answered a command with an error, or could not be started."""


class Chromium:
    """One Chromium process with remote debugging on a free port, driven over its websocket."""

    def __init__(self, executable, flags, start_timeout_s=30.0):
        self.executable, self.flags, self.start_timeout_s = executable, list(flags), start_timeout_s
        self.process = self.version = None
        self._ws = self._reader = self._stderr = None
        self._ids, self._pending = itertools.count(1), {}
        self._profile = None

    async def __aenter__(self):
        import websockets

        self._profile = tempfile.mkdtemp(prefix="cdp-profile-")
        self.process = await asyncio.create_subprocess_exec(
            self.executable, *self.flags, "--remote-debugging-port=0", f"--user-data-dir={self._profile}",
            "about:blank", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        url = await asyncio.wait_for(self._devtools_url(), self.start_timeout_s)
        self._stderr = asyncio.create_task(self._drain())  # a full pipe would stall the browser
        self._ws = await websockets.connect(url, max_size=None)
        self._reader = asyncio.create_task(self._read())
        self.version = (await self.send("Browser.getVersion"))["product"].split("/", 1)[-1]
        return self

    async def __aexit__(self, *exc):
        self._reader.cancel()
        await self._ws.close()
        self.process.terminate()
        await self.process.wait()
        self._stderr.cancel()
        shutil.rmtree(self._profile, ignore_errors=True)

    async def _devtools_url(self):
        while line := await self.process.stderr.readline():
            match = _DEVTOOLS_URL.search(line)
            if match:
                return match.group(1).decode()
        raise CDPError(f"{self.executable} exited before it printed its DevTools address")

    async def _drain(self):
        while await self.process.stderr.read(65536):
            pass

    async def _read(self):
        async for raw in self._ws:
            message = json.loads(raw)
            future = self._pending.pop(message.get("id"), None)
            if future is not None and not future.done():
                future.set_result(message)

    async def send(self, method, params=None, session_id=None):
        """Send one command; return its result (raises :class:`CDPError` on an error answer)."""
        number = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[number] = future
        message = {"id": number, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        await self._ws.send(json.dumps(message))
        answer = await future
        if "error" in answer:
            raise CDPError(f"{method}: {answer['error'].get('message', answer['error'])}")
        return answer["result"]

    async def new_page(self, width, height):
        """A blank page in a fresh browser context (its own cookies and cache)."""
        context = (await self.send("Target.createBrowserContext"))["browserContextId"]
        target = (await self.send("Target.createTarget", {"url": "about:blank", "browserContextId": context,
                                                          "width": width, "height": height}))["targetId"]
        session = (await self.send("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
        return Page(self, context, session)


class Page:
    """A page of :class:`Chromium` (see :meth:`Chromium.new_page`)."""

    def __init__(self, browser, context_id, session_id):
        self.browser, self.context_id, self.session_id = browser, context_id, session_id

    async def navigate(self, url):
        result = await self.browser.send("Page.navigate", {"url": url}, self.session_id)
        if result.get("errorText"):
            raise CDPError(f"navigating to {url}: {result['errorText']}")

    async def evaluate(self, expression):
        """The value of a JavaScript expression in the page (JSON-serialisable values only)."""
        result = await self.browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                                         self.session_id)
        if "exceptionDetails" in result:
            raise CDPError(f"evaluating {expression[:60]!r}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    async def close(self):
        await self.browser.send("Target.disposeBrowserContext", {"browserContextId": self.context_id})
