#!/usr/bin/env python3
"""Drives the status page of a live cluster in headless Chromium (Selenium, Debian's
chromium and chromium-driver) as an operator would, and takes screenshots.

  console_browser.py --url http://127.0.0.1:PORT/ --token T --leader A --to B --shots DIR

1. Desktop window: waits for the node table (every member), the leader card naming A and the
   chart's line; screenshot console-desktop.png.
2. Clicks "make leader" of B with the token field empty: the page must say the action was
   refused (401), and A must still lead after the next refresh.
3. Types the token, clicks again: the page must say it was accepted, then show B as the
   leader and, in the history, B's term leading above A's term ended by hand-over;
   screenshot console-after-hand-over.png.
4. Phone window (390 px): no horizontal scrolling; screenshot console-phone.png.

  console_browser.py --url … --token T --shard S --to B --shards N --shots DIR

With shards: waits for the shard table (N shards, each led), clicks "move to B" of shard S
without the token (refused, S's leader stays), then with it: the table shows B leading S and
the history a term of S on B; screenshots console-shards.png and console-shards-phone.png
(no horizontal scrolling on the phone).

Prints one JSON line with what it saw; exits 1 with the reason when a step fails.

The page refreshes itself every 2 s, so the page's state is read in one script call that
returns plain data (never element handles kept across calls), and every expectation is a
poll with a deadline, never a single read.
"""
import argparse
import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

# What the page shows, read in one call: a refresh between two reads cannot mix two states.
STATE_JS = """
const t = e => e ? e.textContent.trim() : null;
const rows = sel => [...document.querySelectorAll(sel)];
return {
  msg: t(document.getElementById('msg')),
  leader_card: t(document.querySelector('#card-leader .v')),
  cards: Object.fromEntries(rows('.card').map(c => [c.id, c.innerText.replace(/\\n/g, ' | ')])),
  chart_line: !!document.querySelector('#chart polyline'),
  nodes: Object.fromEntries(rows('#nodes tbody tr').map(r => [r.dataset.node, t(r.querySelector('.badge'))])),
  failover_buttons: rows('#nodes button[data-act="failover"]').length,
  shards: Object.fromEntries(rows('#shards tbody tr').map(r => [r.dataset.shard, t(r.querySelector("td[data-l='leader']"))])),
  history: rows('#history tbody tr').map(r => [...r.cells].map(c => c.textContent.trim())),
};
"""


def fail(why, driver=None, shots=None):
    if driver is not None and shots:
        driver.save_screenshot(os.path.join(shots, "console-failure.png"))
        why += "\n--- page text ---\n" + driver.find_element(By.TAG_NAME, "body").text
    print(json.dumps({"ok": False, "error": why}))
    sys.exit(1)


def wait(driver, what, cond, timeout, shots):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = cond()
            if last:
                return last
        except Exception as e:  # the page re-renders under us: try again
            last = e
        time.sleep(0.2)
    fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})", driver, shots)


def state(driver):
    return driver.execute_script(STATE_JS)


def click(driver, css, pick=None, timeout=10, shots=None):
    """Clicks the first button matching `css` (and `pick(button)`), found anew on each try: a
    refresh between finding and clicking is retried, not failed."""
    deadline = time.time() + timeout
    while True:
        try:
            for b in driver.find_elements(By.CSS_SELECTOR, css):
                if pick is None or pick(b):
                    b.click()
                    return
            why = "no such button"
        except StaleElementReferenceException as e:
            why = e
        if time.time() > deadline:
            fail(f"could not click {css}: {why}", driver, shots)
        time.sleep(0.2)


def stays(driver, what, cond, seconds, shots):
    """`cond(state)` holds at every read for `seconds` (a refused action changes nothing)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        st = state(driver)
        if not cond(st):
            fail(f"{what} no longer holds: {st}", driver, shots)
        time.sleep(0.25)


def screen(driver, width, height, mobile):
    """Emulates a screen (Chromium's device mode): `width` CSS pixels wide."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 2 if mobile else 1, "mobile": mobile})


def shot(driver, width, mobile, path):
    """A whole-page screenshot at `width`; the screen is left at that width, 900 px high."""
    screen(driver, width, 900, mobile)
    time.sleep(0.2)
    screen(driver, width, driver.execute_script("return document.documentElement.scrollHeight"), mobile)
    time.sleep(0.3)
    driver.save_screenshot(path)
    screen(driver, width, 900, mobile)


def outside(driver, width):
    """Visible elements that reach past the right edge of a screen `width` CSS pixels wide
    (a mobile browser widens its layout to the content, so window.innerWidth would follow)."""
    return driver.execute_script(
        "return [...document.querySelectorAll('body *')].filter(e => { const r = e.getBoundingClientRect();"
        " return r.width > 0 && r.right > arguments[0] + 0.5 && !e.closest('#history'); })"
        ".slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))", width)


def shard_flow(driver, a, seen):
    def led():
        ls = state(driver)["shards"]
        return len(ls) == a.shards and all(v and v != "none" for v in ls.values()) and ls

    def move_to(b):
        return json.loads(b.get_attribute("data-args")).get("to") == a.to

    move = f"#shards tr[data-shard='{a.shard}'] button[data-act='shard/move']"
    screen(driver, 1440, 900, False)
    driver.get(a.url)
    seen["shard_leaders_before"] = before = wait(driver, f"{a.shards} shards, each led, in the shard table", led, 30, a.shots)
    if before[a.shard] == a.to:
        fail(f"{a.to} already leads {a.shard}", driver, a.shots)
    st = state(driver)
    seen["cards"] = st["cards"]
    if st["failover_buttons"]:
        fail("'make leader' is offered on a sharded cluster", driver, a.shots)
    shot(driver, 1440, False, os.path.join(a.shots, "console-shards.png"))

    driver.find_element(By.ID, "token").clear()
    click(driver, move, move_to, shots=a.shots)
    seen["refused"] = wait(driver, "the refusal", lambda: (m := state(driver)["msg"]).startswith("refused (401)") and m, 10, a.shots)
    stays(driver, f"{before[a.shard]} leading {a.shard} after a refused move", lambda st: st["shards"].get(a.shard) == before[a.shard], 4.5, a.shots)

    driver.find_element(By.ID, "token").send_keys(a.token)
    t0 = time.time()
    click(driver, move, move_to, shots=a.shots)
    seen["accepted"] = wait(driver, "the acceptance", lambda: (m := state(driver)["msg"]).startswith("accepted") and m, 10, a.shots)
    wait(driver, f"{a.to} leading {a.shard} in the shard table", lambda: state(driver)["shards"].get(a.shard) == a.to, 20, a.shots)
    # History rows: shard, epoch, node, started, lasted, takeover, rows, ended by.
    seen["history_after"] = wait(driver, f"{a.shard}'s term on {a.to} in the history", lambda: [h for h in state(driver)["history"] if h[0] == a.shard and h[2] == a.to and h[-1] == "leading"], 10, a.shots)
    seen["seconds_to_move_on_page"] = round(time.time() - t0, 2)
    seen["shard_leaders_after"] = state(driver)["shards"]
    shot(driver, 1440, False, os.path.join(a.shots, "console-shards-moved.png"))

    on_phone(driver, a, seen, "the shard table", led, "console-shards-phone.png")


def on_phone(driver, a, seen, what, ready, name):
    """A phone (as Chromium's device mode emulates one): one column, nothing wider than the
    screen (the history table may scroll sideways within its panel); screenshot `name`."""
    screen(driver, 390, 844, True)
    driver.refresh()
    wait(driver, f"{what} on a phone", ready, 20, a.shots)
    overflow = driver.execute_script("return document.documentElement.scrollWidth") - 390
    wide = outside(driver, 390)
    seen["phone_overflow_px"] = overflow
    if overflow > 0 or wide:
        fail(f"on a phone the page is {overflow} px wider than the screen; past its edge: {wide}", driver, a.shots)
    shot(driver, 390, True, os.path.join(a.shots, name))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--leader")
    ap.add_argument("--to", required=True)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--shard")
    ap.add_argument("--shards", type=int, default=0)
    ap.add_argument("--shots", required=True)
    a = ap.parse_args()
    os.makedirs(a.shots, exist_ok=True)

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"]:
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    seen = {}
    try:
        if a.shard:
            shard_flow(driver, a, seen)
            seen["ok"] = True
            print(json.dumps(seen))
            return
        screen(driver, 1440, 900, False)
        driver.get(a.url)
        wait(driver, f"{a.nodes} nodes in the table", lambda: len(state(driver)["nodes"]) == a.nodes, 20, a.shots)
        wait(driver, f"the leader card naming {a.leader}", lambda: state(driver)["leader_card"] == a.leader, 20, a.shots)
        wait(driver, "the chart's rows/s line", lambda: state(driver)["chart_line"], 20, a.shots)
        st = state(driver)
        seen["cards"], seen["history_before"] = st["cards"], st["history"]
        if outside(driver, 1440):
            fail(f"on a desktop, past the screen's edge: {outside(driver, 1440)}", driver, a.shots)
        shot(driver, 1440, False, os.path.join(a.shots, "console-desktop.png"))

        button = f"#nodes tr[data-node='{a.to}'] button[data-act='failover']"
        # Without the token: refused, and nothing changes.
        driver.find_element(By.ID, "token").clear()
        click(driver, button, shots=a.shots)
        seen["refused"] = wait(driver, "the refusal", lambda: (m := state(driver)["msg"]).startswith("refused (401)") and m, 10, a.shots)
        stays(driver, f"the leader card naming {a.leader} after a refused action", lambda st: st["leader_card"] == a.leader, 4.5, a.shots)

        # With the token: leadership moves to the chosen node.
        driver.find_element(By.ID, "token").send_keys(a.token)
        t0 = time.time()
        click(driver, button, shots=a.shots)
        seen["accepted"] = wait(driver, "the acceptance", lambda: (m := state(driver)["msg"]).startswith("accepted") and m, 10, a.shots)
        wait(driver, f"the leader card naming {a.to}", lambda: state(driver)["leader_card"] == a.to, 20, a.shots)

        def new_entry():
            h = state(driver)["history"]
            return len(h) >= 2 and h[0][1] == a.to and h[0][-1] == "leading" and h[1][1] == a.leader and h[1][-1] == "hand-over" and h

        seen["history_after"] = wait(driver, "the hand-over in the history", new_entry, 10, a.shots)
        seen["seconds_to_new_leader_on_page"] = round(time.time() - t0, 2)

        def roles():
            st = state(driver)
            ok = st["nodes"].get(a.to) == "leader" and st["nodes"].get(a.leader) == "standby" and st["leader_card"] == a.to
            return ok and st["nodes"]

        # The table and the leader card agree, from one read of the page.
        seen["roles"] = wait(driver, f"the node table showing {a.to} leading and {a.leader} standing by", roles, 10, a.shots)
        shot(driver, 1440, False, os.path.join(a.shots, "console-after-hand-over.png"))

        on_phone(driver, a, seen, "the node table", lambda: len(state(driver)["nodes"]) == a.nodes, "console-phone.png")
    finally:
        driver.quit()
    seen["ok"] = True
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
