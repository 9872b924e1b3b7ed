"""Regenerate the README screenshots from the demo: SVG from the real console, PNG via rsvg-convert.

    .venv/bin/python screenshots/make_screenshots.py [--out screenshots] [--wait 100]

Starts the embedded demo service (demo data + live traffic), waits until the demo's deploy-bot has ramped
the incident flag to 25% (about 3 minutes; so the dashboard has a "rose after a change" call-out), then drives the
real console headless with Pilot and saves each screen. Where Prometheus is installed (`/usr/bin/prometheus`,
Debian's `prometheus`), it also starts one scraping the demo and saves the incident flag's detail with its
error rate split by variant as read through Prometheus (`detail-prometheus`). PNGs need `rsvg-convert`
(Debian/Ubuntu: `apt-get install librsvg2-bin`); without it only the SVGs are written.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flagops.config import Profile  # noqa: E402
from flagops.metrics.settings import MetricsSettings  # noqa: E402
from flagops.server.embedded import start_embedded  # noqa: E402
from flagops.session import open_backend  # noqa: E402
from flagops.tui.app import FlagOpsApp  # noqa: E402

INCIDENT_FLAG = "checkout-new-flow"
SIZE = (120, 36)


def wait_for_ramp(url: str, token: str, seconds: float, rollout: float = 25) -> None:
    """Until the deploy-bot has ramped the incident flag to `rollout`% in prod (or `seconds` pass)."""
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
        while time.monotonic() < deadline:
            flag = http.get(f"/v1/flags/{INCIDENT_FLAG}", params={"environment": "prod"}).json()
            if flag["environments"]["prod"]["rollout"] >= rollout:
                return
            time.sleep(2)
    print(f"note: the ramp did not reach {rollout:g}% within {seconds:g}s; the dashboard may show no call-out",
          file=sys.stderr)


def fix_svg(path: Path) -> None:
    """Textual writes spaces as &#160; inside <text>; rsvg-convert drops leading ones unless told not to."""
    text = path.read_text()
    if 'xml:space="preserve"' not in text:
        path.write_text(text.replace("<svg ", '<svg xml:space="preserve" ', 1))


def to_png(svg: Path) -> Path | None:
    if shutil.which("rsvg-convert") is None:
        return None
    png = svg.with_suffix(".png")
    subprocess.run(["rsvg-convert", str(svg), "-o", str(png)], check=True)
    return png


async def until(pilot: Any, predicate: Callable[[], object], timeout: float = 15.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if predicate():
            return
        await pilot.pause(0.1)
    raise RuntimeError("the console did not reach the expected state")


async def shoot(url: str, token: str, out: Path) -> list[Path]:
    saved: list[Path] = []
    profile = Profile(name="demo", url=url, environment="prod")
    backend = open_backend(profile, token)
    app = FlagOpsApp(profile, backend)

    async def save(name: str, *, settle: float = 1.0) -> None:
        await pilot.pause(settle)
        path = out / f"{name}.svg"
        app.save_screenshot(str(path))
        fix_svg(path)
        saved.append(path)
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")

    async def with_theme(theme: str, name: str, action: Callable[[], Awaitable[None]] | None = None) -> None:
        app.theme = theme
        if action is not None:
            await action()
        await save(name)

    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: app.store.loaded and len(app.store.metrics) > 20)
        await pilot.pause(3)  # let the metrics sweep colour more rows
        await save("flags")

        await pilot.press("slash", *"checkout")
        await save("search")
        await pilot.press("escape")

        app.open_flag(INCIDENT_FLAG)
        await until(pilot, lambda: getattr(app.screen, "flag", None) is not None)
        await save("detail", settle=2.5)

        await pilot.press("k")
        await save("kill-modal")
        await pilot.press("escape")
        await pilot.press("escape")

        await pilot.press("d")
        try:  # the suspects check fetches a metrics window around each recent change
            await until(pilot, lambda: bool(getattr(app.screen, "rises", None)), timeout=20)
        except RuntimeError:
            print("note: no flag's error rate rose after a change yet", file=sys.stderr)
        await save("dashboard")
        await pilot.press("escape")

        await pilot.press("b")  # runbooks: the shipped checkout runbook, planned against the live service
        await until(pilot, lambda: bool(getattr(getattr(app.screen, "catalog", None), "runbooks", None)))
        app.screen.reopen("checkout-error-spike")  # type: ignore[attr-defined]
        await until(pilot, lambda: "r: run" in str(app.screen.query_one("#runbook-plan").render()), timeout=20)
        plan = app.screen.query_one("#runbook-plan")
        app.screen.query_one("#runbook-pane").scroll_to_widget(plan, animate=False, top=True)  # the plan, not the notes
        await save("runbooks")
        await pilot.press("escape")

        await pilot.press("t")  # timeline: the deploy-bot's ramp, newest first, with error rates
        await until(pilot, lambda: getattr(app.screen, "timeline", None) is not None, timeout=20)
        await save("timeline")
        await pilot.press("escape")

        await pilot.press("question_mark")
        await save("help")
        await pilot.press("escape")

        await pilot.press("ctrl+p")
        await pilot.press(*"check")
        await save("palette", settle=1.5)
        await pilot.press("escape")

        await with_theme("high-contrast", "theme-high-contrast")
        await with_theme("ansi-16", "theme-ansi-16")
        app.theme = "incident-dark"

    await backend.aclose()
    # 80x24: what an SSH session on a small terminal sees
    small = FlagOpsApp(profile, open_backend(profile, token))
    async with small.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: small.store.loaded)
        await pilot.pause(2)
        path = out / "flags-80x24.svg"
        small.save_screenshot(str(path))
        fix_svg(path)
        saved.append(path)
        print(f"wrote {path}")
    await small.backend.aclose()
    return saved


async def shoot_prometheus(url: str, token: str, out: Path) -> list[Path]:
    """The incident flag's detail with error rates read through a real Prometheus scraping the demo."""
    if not Path("/usr/bin/prometheus").exists():
        print("note: no /usr/bin/prometheus (apt-get install prometheus): skipping detail-prometheus", file=sys.stderr)
        return []
    import tempfile

    from tests.metrics.prometheus_harness import start_prometheus

    with tempfile.TemporaryDirectory(prefix="flagops-shots-prom-") as tmp:
        prometheus = start_prometheus(Path(tmp), [(url, token)])
        try:
            prometheus.wait_for_series(f'flagops_flag_errors_total{{flag="{INCIDENT_FLAG}"}}')
            await asyncio.sleep(20)  # a few scrapes, so the chart has points
            profile = Profile(name="demo+prometheus", url=url, environment="prod", metrics=MetricsSettings(
                source="prometheus", url=prometheus.url, min_range=10))
            app = FlagOpsApp(profile, open_backend(profile, token))
            async with app.run_test(size=SIZE) as pilot:
                await until(pilot, lambda: app.store.loaded)
                app.open_flag(INCIDENT_FLAG)
                await until(pilot, lambda: "treatment" in str(app.screen.query_one("#chart-compare").render())
                            if app.screen.query("#chart-compare") else False, timeout=30)
                await pilot.pause(1)
                path = out / "detail-prometheus.svg"
                app.save_screenshot(str(path))
                fix_svg(path)
                print(f"wrote {path}")
            await app.backend.aclose()
            return [path]
        finally:
            prometheus.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    parser.add_argument("--wait", type=float, default=240.0,
                        help="max seconds to wait for the demo incident to ramp (it steps every 45 s)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    service = start_embedded(traffic=True)
    try:
        wait_for_ramp(service.url, service.admin_token, args.wait)
        svgs = asyncio.run(shoot(service.url, service.admin_token, args.out))
        svgs += asyncio.run(shoot_prometheus(service.url, service.admin_token, args.out))
    finally:
        service.stop()
    pngs = [png for png in (to_png(svg) for svg in svgs) if png is not None]
    if not pngs:
        print("rsvg-convert not found: SVGs only (apt-get install librsvg2-bin for PNGs)", file=sys.stderr)
    print(f"{len(svgs)} SVG, {len(pngs)} PNG in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
