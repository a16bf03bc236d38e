"""The investigator's page in headless Chromium against a real server (conftest.py): every test
walks as an investigator would and checks what the page shows against the API's answers.
No test may trigger a Content-Security-Policy violation (the `page` fixture asserts it)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.pages import answer, graph_counts, log_in, open_first_ring, text_is, visible, wait
from tests.support.launchers import ApiServer
from tests.support.settings import KEYS, auth
from tests.support.ui_world import INVESTIGATOR, MARKUP, UiWorld

World = tuple[ApiServer, UiWorld, Path]


def api(world: World, path: str, scope: str = "admin") -> Any:
    response = httpx.get(f"{world[0].url}{path}", headers=auth(scope), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def rows(driver: Any, css: str) -> list[Any]:
    return driver.find_elements(By.CSS_SELECTOR, css)


def open_account(driver: Any, account_id: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f'#members tbody tr[data-account="{account_id}"] td:nth-child(2)').click()
    text_is(driver, "#account-id", account_id)


def test_login_keeps_the_key_in_session_storage_only_and_logout_forgets_it(page: Any, world: World) -> None:
    # given a fresh tab, when the investigator pastes a key
    log_in(page, "investigate")
    # then the key lives in sessionStorage only, and whoami names it without the key
    assert page.execute_script("return sessionStorage.getItem('ringfence.key')") == KEYS["investigate"]
    assert page.execute_script("return localStorage.length") == 0
    assert page.execute_script("return document.cookie") == ""
    assert KEYS["investigate"] not in page.current_url
    assert "investigate" in page.find_element(By.ID, "who").text
    assert KEYS["investigate"] not in page.page_source
    # when logging out, the key is gone and the login form is back
    page.find_element(By.ID, "logout").click()
    visible(page, "#key-input")
    assert page.execute_script("return sessionStorage.getItem('ringfence.key')") is None
    # and a wrong key is refused with the API's message, not remembered
    page.find_element(By.ID, "key-input").send_keys("nope")
    page.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    wait(page, lambda d: d.find_element(By.ID, "login-error").text != "")
    assert page.execute_script("return sessionStorage.getItem('ringfence.key')") is None


def test_queue_lists_rings_riskiest_first_with_filters_and_load_more(page: Any, world: World) -> None:
    log_in(page)
    listed = [r.get_attribute("data-ring") for r in rows(page, "#queue tbody tr")]
    first_page = api(world, "/v1/rings?limit=25")
    assert listed == [r["id"] for r in first_page["data"]]
    assert first_page["next_cursor"] is not None
    # when loading more, the next page is appended and the button goes once the list is whole
    page.find_element(By.ID, "load-more").click()
    total = 1 + world[1].small_rings
    wait(page, lambda d: len(rows(d, "#queue tbody tr")) == total)
    assert not page.find_element(By.ID, "load-more").is_displayed()
    assert len({r.get_attribute("data-ring") for r in rows(page, "#queue tbody tr")}) == total
    # when filtering on a minimum risk, only the riskiest ring is left
    page.find_element(By.ID, "f-min-risk").send_keys("0.5")
    page.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    wait(page, lambda d: len(rows(d, "#queue tbody tr")) == 1)
    assert rows(page, "#queue tbody tr")[0].get_attribute("data-ring") == listed[0]
    # and an assignee nobody has leaves the queue empty, with a message
    page.find_element(By.ID, "f-assignee").send_keys("key-99")
    page.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    visible(page, "#queue-empty")
    assert rows(page, "#queue tbody tr") == []


def test_ring_view_draws_the_api_ring_and_highlights_who_shares_an_identifier(page: Any, world: World) -> None:
    log_in(page)
    ring_id = open_first_ring(page)
    ring = api(world, f"/v1/rings/{ring_id}")
    # then the graph holds the ring's members, identifiers and links, no more, no less
    counts = graph_counts(page)
    assert (counts["accounts"], counts["identifiers"], counts["edges"]) == (
        len(ring["members"]), len(ring["identifiers"]), len(ring["links"]))
    assert [r.get_attribute("data-account") for r in rows(page, "#members tbody tr")] == \
        [m["account_id"] for m in ring["members"]]
    # identifiers most shared first
    shared = [int(r.find_elements(By.TAG_NAME, "td")[2].text) for r in rows(page, "#identifiers tbody tr")]
    assert shared == sorted(shared, reverse=True) and shared[0] == len(ring["members"])
    assert len(rows(page, "#timeline li")) == len(ring["history"])
    # when clicking a card, exactly the members holding it light up
    page.find_element(By.CSS_SELECTOR, '#identifiers tbody tr[data-identifier="card-a-0"]').click()
    wait(page, lambda d: len(rows(d, "#members tbody tr.lit")) == 2)
    holders = {link["account_id"] for link in ring["links"] if link["id"] == "card-a-0"}
    assert {r.get_attribute("data-account") for r in rows(page, "#members tbody tr.lit")} == holders
    text_is(page, "#identifier-id", "card-a-0")


def test_case_actions_open_then_confirm_fraud_labelling_every_member(page: Any, world: World) -> None:
    log_in(page, "admin")
    ring_id = open_first_ring(page)
    # when opening the case, it is the caller's
    page.find_element(By.ID, "case-open").click()
    text_is(page, "#case-status", "open")
    text_is(page, "#case-assignee", "key-0")
    # when confirming fraud with "label all members"
    page.find_element(By.ID, "case-note").send_keys("chargebacks")
    page.find_element(By.ID, "case-confirm").click()
    answer(page, check=True)
    text_is(page, "#case-status", "confirmed_fraud")
    # then the API holds the case and every member's fraud label from the case
    case = api(world, f"/v1/rings/{ring_id}/case")
    assert case["status"] == "confirmed_fraud" and [h["status"] for h in case["history"]] == ["open", "confirmed_fraud"]
    assert case["history"][-1]["note"] == "chargebacks"
    wait(page, lambda d: len(rows(d, "#case-history li")) == 2)
    for member in api(world, f"/v1/rings/{ring_id}")["members"]:
        assert member["label"] == "fraud"
        assert api(world, f"/v1/accounts/{member['account_id']}/labels")["data"][-1]["source"] == f"case:{ring_id}"
    assert {r.text for r in rows(page, "#members tbody td:nth-child(4)")} == {"fraud"}
    # and "mine" in the queue finds it
    page.find_element(By.ID, "back").click()
    page.find_element(By.ID, "f-mine").click()
    page.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    wait(page, lambda d: [r.get_attribute("data-ring") for r in rows(d, "#queue tbody tr")] == [ring_id])


def test_account_panel_shows_reasons_and_labels_and_expand_keeps_the_hub_collapsed(page: Any, world: World) -> None:
    log_in(page)
    open_first_ring(page)
    member = world[1].ring_members[-1]  # the member that holds the hub bank account
    open_account(page, member)
    reasons = api(world, f"/v1/accounts/{member}/reasons")["reasons"]
    assert len(rows(page, "#account-reasons meter")) == len(reasons) > 0
    assert [m.get_attribute("value") for m in rows(page, "#account-reasons meter")][0] == str(reasons[0]["weight"])
    assert len(rows(page, "#account-links li")) == len(api(world, f"/v1/accounts/{member}")["links"])
    # when labelling it legit (with a confirm), the history grows by that label
    before = len(api(world, f"/v1/accounts/{member}/labels")["data"])
    page.find_element(By.ID, "account-legit").click()
    answer(page, value="looked fine")
    wait(page, lambda d: len(rows(d, "#account-label-history li")) == before + 1)
    assert api(world, f"/v1/accounts/{member}/labels")["data"][-1]["note"] == "looked fine"
    # when expanding, the hub is one node with its degree, its other accounts one "+N others" node
    drawn = graph_counts(page)
    page.find_element(By.ID, "account-expand").click()
    wait(page, lambda d: graph_counts(d)["hubs"] == 1)
    counts = graph_counts(page)
    assert counts["accounts"] == drawn["accounts"] and counts["others"] >= 1
    hub = page.find_element(By.CSS_SELECTOR, "#graph-notes li.hub-note")
    assert f"degree {world[1].hub_degree}" in hub.text
    others = page.find_element(By.CSS_SELECTOR, "#graph-notes li.others-note")
    assert others.text.startswith(f"+{world[1].hub_degree - 1} others")
    # and the API said truncated (the hub is capped): the banner says so
    assert page.find_element(By.ID, "truncated").is_displayed()
    # when expanding the hub, the page asks how many accounts, and draws that many
    others.find_element(By.TAG_NAME, "a").click()
    answer(page, value="10")
    first_ten = {a["account_id"] for a in api(world, "/v1/identifiers/bank_account/bank-hub?limit=10")["data"]}
    new = first_ten - set(world[1].ring_members)
    wait(page, lambda d: graph_counts(d)["accounts"] == drawn["accounts"] + len(new))
    note = page.find_element(By.CSS_SELECTOR, "#graph-notes li.others-note").text
    assert note.startswith(f"+{world[1].hub_degree - 10} others")


def test_investigate_only_key_sees_no_actions_and_a_forged_call_is_refused(page: Any, world: World) -> None:
    log_in(page, "investigate")
    ring_id = open_first_ring(page)
    open_account(page, world[1].ring_members[0])
    for css in ("#case-open", "#case-confirm", "#case-dismiss", "#account-fraud", "#account-legit", "input.pick"):
        assert rows(page, css) == [], css
    assert not page.find_element(By.ID, "label-selected-fraud").is_displayed()
    assert rows(page, "#account-expand")  # reading is allowed
    # when the page is made to call anyway, the API refuses it
    status = page.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"fetch('/v1/rings/{ring_id}/case', {{method: 'PUT', headers: {{'Content-Type': 'application/json',"
        " Authorization: 'Bearer ' + sessionStorage.getItem('ringfence.key')},"
        " body: JSON.stringify({status: 'dismissed'})})"
        ".then(r => r.json().then(b => done([r.status, b.error.code])));")
    assert status == [403, "forbidden"]


def test_markup_in_data_renders_as_text_and_runs_nothing(page: Any, world: World) -> None:
    log_in(page)
    open_first_ring(page)
    open_account(page, world[1].markup_account)
    values = [d.text for d in rows(page, "#account-attributes dd")]
    assert MARKUP in values
    assert rows(page, "#account-panel img") == [] and rows(page, "img") == []
    assert page.execute_script("return window.__pwned") is None


def test_keyboard_shortcuts(page: Any, world: World) -> None:
    log_in(page)
    body = page.find_element(By.TAG_NAME, "body")
    queue = [r.get_attribute("data-ring") for r in rows(page, "#queue tbody tr")]
    current = lambda: page.find_element(By.CSS_SELECTOR, "#queue tbody tr.current").get_attribute("data-ring")  # noqa: E731
    assert current() == queue[0]
    body.send_keys("j")
    assert current() == queue[1]
    body.send_keys("k")
    assert current() == queue[0]
    # Enter opens the ring; j walks its members into the account panel
    body.send_keys(Keys.ENTER)
    visible(page, "#members tbody tr")
    members = [r.get_attribute("data-account") for r in rows(page, "#members tbody tr")]
    body.send_keys("j")
    text_is(page, "#account-id", members[0])
    body.send_keys("j")
    text_is(page, "#account-id", members[1])
    # shortcuts are off while typing: a "j" in the note field moves nothing
    page.find_element(By.ID, "case-note").send_keys("j")
    assert page.find_element(By.ID, "account-id").text == members[1]
    # "/" jumps to an account id
    body.send_keys("/")
    answer(page, value=world[1].ring_members[5])
    text_is(page, "#account-id", world[1].ring_members[5])
    # "?" opens the help, Esc closes it
    body.send_keys("?")
    visible(page, "#help")
    page.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait(page, lambda d: not d.find_element(By.ID, "help").is_displayed())
    # "f" asks before labelling; cancelling labels nothing
    before = len(api(world, f"/v1/accounts/{world[1].ring_members[5]}/labels")["data"])
    body.send_keys("f")
    visible(page, "#ask-cancel").click()
    assert len(api(world, f"/v1/accounts/{world[1].ring_members[5]}/labels")["data"]) == before
    # "n" opens the next ring of the queue, Esc closes the panel then goes back to the queue
    body.send_keys("n")
    wait(page, lambda d: queue[1] in d.find_element(By.ID, "ring-title").text)
    body.send_keys(Keys.ESCAPE)
    visible(page, "#queue tbody tr")


def test_exports_are_made_in_the_browser_with_the_rings_rows(page: Any, world: World, downloads: Path) -> None:
    log_in(page)
    ring_id = open_first_ring(page)
    ring = api(world, f"/v1/rings/{ring_id}")
    page.find_element(By.ID, "export-csv").click()
    page.find_element(By.ID, "export-png").click()
    csv_file, png_file = downloads / f"ring-{ring_id}.csv", downloads / f"ring-{ring_id}.png"
    wait(page, lambda _: csv_file.exists() and png_file.exists() and png_file.stat().st_size > 0)
    records = list(csv.DictReader(io.StringIO(csv_file.read_text())))
    by_kind = {k: [r for r in records if r["record"] == k] for k in ("member", "identifier", "link")}
    assert [r["account_id"] for r in by_kind["member"]] == [m["account_id"] for m in ring["members"]]
    assert {(r["identifier_type"], r["identifier_id"], int(r["accounts"])) for r in by_kind["identifier"]} == \
        {(i["type"], i["id"], i["accounts"]) for i in ring["identifiers"]}
    assert {(r["account_id"], r["identifier_type"], r["identifier_id"]) for r in by_kind["link"]} == \
        {(link["account_id"], link["type"], link["id"]) for link in ring["links"]}
    assert len(records) == len(ring["members"]) + len(ring["identifiers"]) + len(ring["links"])
    assert png_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mark_an_identifier_benign_hides_it_and_undo_restores_it(page: Any, world: World) -> None:
    log_in(page, INVESTIGATOR)
    open_first_ring(page)
    page.find_element(By.CSS_SELECTOR, '#identifiers tbody tr[data-identifier="card-a-6"]').click()
    text_is(page, "#identifier-benign", "no")
    shown = graph_counts(page)["visible-nodes"]
    # "b" marks the selected identifier benign: the API says so and the graph hides it
    page.find_element(By.TAG_NAME, "body").send_keys("b")
    text_is(page, "#identifier-benign", "yes")
    assert api(world, "/v1/identifiers/card/card-a-6")["benign"] is True
    assert graph_counts(page)["visible-nodes"] == shown - 1
    # the toggle shows benign identifiers again
    page.find_element(By.ID, "show-benign").click()
    wait(page, lambda d: graph_counts(d)["visible-nodes"] == shown)
    page.find_element(By.ID, "show-benign").click()
    # undo
    page.find_element(By.ID, "identifier-unbenign").click()
    text_is(page, "#identifier-benign", "no")
    assert api(world, "/v1/identifiers/card/card-a-6")["benign"] is False
    assert graph_counts(page)["visible-nodes"] == shown


def test_label_many_checked_members_at_once(page: Any, world: World) -> None:
    log_in(page, INVESTIGATOR)
    open_first_ring(page)
    picked = world[1].ring_members[4:6]
    for account in picked:
        page.find_element(By.CSS_SELECTOR, f'#members tbody tr[data-account="{account}"] input.pick').click()
    page.find_element(By.ID, "label-selected-legit").click()
    answer(page, value="same household")
    for account in picked:
        text_is(page, f'#members tbody tr[data-account="{account}"] td:nth-child(4)', "legit")
        last = api(world, f"/v1/accounts/{account}/labels")["data"][-1]
        assert (last["label"], last["source"], last["note"]) == ("legit", "ui", "same household")
    untouched = api(world, f"/v1/accounts/{world[1].ring_members[6]}/labels")["data"]
    assert all(e["note"] != "same household" for e in untouched)
