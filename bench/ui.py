"""What the /ui/ page costs in a real browser: painting a ring, expanding a big hub, and
staying interactive (select, zoom, pan) with ~2,000 nodes drawn.

    .venv/bin/python bench/ui.py [--ring 50] [--hub 2000] [--repeats 5] [--screenshots DIR]

Seeds the test world (`tests/support/ui_world.py`: one ring of `--ring` members, a bank
account shared by `--hub` accounts, 30 small rings), serves it with uvicorn and drives
headless Chromium (`devservices/browser.py`). All times are the browser's own clock
(`performance.now()`), medians over `--repeats`:
- `ring open`: click in the queue until the graph's first frame after the ring is drawn
  (API call, tables, layout, paint); `ring draw` is the page's own `ring-paint` measure
  (cytoscape elements and layout). Baseline in the same process: a 3-member ring.
- `hub expand`: from "+N others" until the frame after the hub's accounts are drawn
  (paged API calls included); `expand draw` is the page's `expand-draw` measure.
- interactivity with the hub expanded: frame intervals (p50 / p95 ms) while wheel-zooming and
  dragging the canvas, and a member row click until its account panel is shown (select).
With `--screenshots DIR`, writes DIR/ui-queue.png and DIR/ui-ring.png (the README's) and exits.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    import _root  # noqa: F401  (bench/_root.py: the repository root on sys.path, this checkout's code only)

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from devservices.browser import headless_chromium  # noqa: E402
from tests.browser.pages import log_in, visible, wait  # noqa: E402
from tests.support.ui_world import serving  # noqa: E402

# Click `selector` (the first match), then resolve with the ms until the first frame after
# `#graph` shows `attr >= target`.
TIMED_CLICK = """
const [selector, attr, target, done] = arguments;
const t0 = performance.now();
document.querySelector(selector).click();
const poll = () => {
  if (Number(document.getElementById('graph').dataset[attr] || 0) >= target)
    requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0)));
  else setTimeout(poll, 2);
};
poll();
"""
FRAMES_START = """
window.__frames = []; let last = performance.now();
const tick = (now) => {
  window.__frames.push(now - last); last = now;
  if (window.__frames.running) requestAnimationFrame(tick);
};
window.__frames.running = true; requestAnimationFrame(tick);
"""
FRAMES_STOP = "window.__frames.running = false; return window.__frames.slice(1);"
MEASURE = "const m = performance.getEntriesByName(arguments[0]); return m.length ? m[m.length - 1].duration : null;"


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def open_ring(driver: Any, url: str, ring_row: int, size: int) -> tuple[float, float]:
    # A new query string: a full page load (a new hash alone would not reload).
    driver.get(f"{url}/ui/?load={time.monotonic_ns()}")
    visible(driver, "#queue tbody tr")
    selector = f"#queue tbody tr:nth-child({ring_row}) a"
    total = driver.execute_async_script(TIMED_CLICK, selector, "accounts", size)
    return total, driver.execute_script(MEASURE, "ring-paint")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ring", type=int, default=50)
    parser.add_argument("--hub", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--screenshots", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            serving(Path(tmp), ring_size=args.ring, hub_degree=args.hub) as (server, world):
        driver = headless_chromium(width=1400, height=900)
        try:
            driver.get(f"{server.url}/ui/")
            log_in(driver)
            if args.screenshots:
                screenshots(driver, args.screenshots, world.ring_members[-1])
                return
            last_row = len(driver.find_elements(By.CSS_SELECTOR, "#queue tbody tr"))
            small = [open_ring(driver, server.url, last_row, 3) for _ in range(args.repeats)]
            big = [open_ring(driver, server.url, 1, args.ring) for _ in range(args.repeats)]
            print(f"ring open, {args.ring} members: {med([b[0] for b in big]):.0f} ms "
                  f"(draw {med([b[1] for b in big]):.0f} ms); 3 members: {med([s[0] for s in small]):.0f} ms "
                  f"(draw {med([s[1] for s in small]):.0f} ms); "
                  f"ratio {med([b[0] for b in big]) / med([s[0] for s in small]):.2f}")
            expands, draws, frames, selects = [], [], [], []
            for _ in range(max(1, args.repeats // 2)):
                open_ring(driver, server.url, 1, args.ring)
                hub_member = f'#members tbody tr[data-account="{world.ring_members[-1]}"] td:nth-child(2)'
                driver.find_element(By.CSS_SELECTOR, hub_member).click()
                visible(driver, "#account-expand").click()
                wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#graph-notes li.others-note a"))
                driver.execute_script("document.querySelector('#graph-notes li.others-note a').click()")
                visible(driver, "#ask-input")
                driver.find_element(By.ID, "ask-input").clear()
                driver.find_element(By.ID, "ask-input").send_keys(str(args.hub))
                drawn = args.ring + args.hub - 1
                expands.append(driver.execute_async_script(TIMED_CLICK, "#ask-ok", "accounts", drawn))
                draws.append(driver.execute_script(MEASURE, "expand-draw"))
                nodes = int(driver.find_element(By.ID, "graph").get_attribute("data-visible-nodes"))
                graph = driver.find_element(By.ID, "graph")
                driver.execute_script(FRAMES_START)
                chain = ActionChains(driver)
                for step in range(10):
                    chain.scroll_to_element(graph).scroll_by_amount(0, -120 if step % 2 else 120)
                chain.click_and_hold(graph).move_by_offset(120, 60).move_by_offset(-200, -90).release().perform()
                frames += driver.execute_script(FRAMES_STOP)
                for row in range(1, 6):
                    selects.append(driver.execute_async_script(
                        "const [sel, done] = arguments; const t0 = performance.now();"
                        "const id = document.querySelector(sel).dataset.account;"
                        "document.querySelector(sel + ' td:nth-child(2)').click();"
                        "const poll = () => document.getElementById('account-id')?.textContent === id"
                        " ? requestAnimationFrame(() => done(performance.now() - t0)) : setTimeout(poll, 2); poll();",
                        f"#members tbody tr:nth-child({row})"))
            print(f"hub expand to {nodes} nodes: {med(expands):.0f} ms (draw {med(draws):.0f} ms)")
            print(f"with {nodes} nodes: frame interval p50 {pct(frames, 0.5):.1f} ms, p95 {pct(frames, 0.95):.1f} ms "
                  f"over {len(frames)} frames of zoom and pan; select an account {med(selects):.0f} ms")
        finally:
            driver.quit()


def screenshots(driver: Any, out: Path, hub_member: str) -> None:
    """The README's two pictures: the queue, and the riskiest ring with the hub's member open and expanded."""
    out.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(out / "ui-queue.png"))
    driver.find_element(By.CSS_SELECTOR, "#queue tbody tr a").click()
    visible(driver, f'#members tbody tr[data-account="{hub_member}"] td:nth-child(2)').click()
    visible(driver, "#account-expand").click()
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#graph-notes li.hub-note"))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(out / "ui-ring.png"))
    print(f"wrote {out / 'ui-queue.png'} and {out / 'ui-ring.png'}")


if __name__ == "__main__":
    main()
