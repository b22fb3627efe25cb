"""The inspector page in a real headless Chromium, fed by a real nats-server.

Chromium is the distribution's (/usr/bin/chromium, or $SPARRING_CHROMIUM): playwright's own
browser download does not work offline. scripts/setup_browser.sh installs it; without it these
tests are skipped, saying so.
"""

from __future__ import annotations

from typing import Any

from browser_support import needs_chromium

from sparring.bus import Bus
from sparring.inspector import serve_inspector
from sparring.inspector.examples import example_episode

HOSTILE = (
    "<img src=x onerror=\"window.__pwned='img'\">"
    "<script>window.__pwned='script'</script><b>not bold</b>"
)

pytestmark = needs_chromium


async def _rows(page: Any) -> list[str]:
    return await page.locator(".episode .headline").all_inner_texts()


async def test_episodes_published_after_the_page_loaded_appear_newest_first(
    page: Any, bus: Bus, run_name: str
) -> None:
    assert await page.locator(".episode").count() == 0
    first = example_episode(run_name, seed="1111")
    second = example_episode(run_name, seed="2222")
    await bus.publish(first)
    await page.wait_for_selector(f".episode[data-id='{first.id}']")
    await bus.publish(second)
    await page.wait_for_selector(f".episode[data-id='{second.id}']")
    rows = await _rows(page)
    assert len(rows) == 2 and "2222" in rows[0] and "1111" in rows[1]
    assert await page.locator("#count").inner_text() == "2 episodes"


async def test_filters_narrow_the_list_and_live_arrivals_respect_them(
    page: Any, bus: Bus, run_name: str
) -> None:
    from playwright.async_api import expect

    # (The page's CSP forbids eval, so waits go through locators, not wait_for_function.)
    await bus.publish_many(
        [
            example_episode(run_name, game="arith", seed="100", solved=[True]),
            example_episode(run_name, game="search", seed="200", solved=[False]),
            example_episode(run_name, game="search", seed="300", solved=[True, False]),
        ]
    )
    await expect(page.locator(".episode")).to_have_count(3)
    await page.fill("#f-game", "search")
    await expect(page.locator(".episode")).to_have_count(2)
    await page.fill("#f-verdict", "solved")
    await expect(page.locator(".episode")).to_have_count(1)
    assert "seed 300" in (await _rows(page))[0]
    assert "verdict=solved" in page.url and "game=search" in page.url
    # A live arrival that fails the filters stays out; one that passes comes in.
    await bus.publish(example_episode(run_name, game="arith", seed="400", solved=[True]))
    await bus.publish(example_episode(run_name, game="search", seed="500", solved=[True]))
    await expect(page.locator(".episode")).to_have_count(2)
    assert "seed 500" in (await _rows(page))[0]
    await page.fill("#f-search", "SEED 200")
    await page.fill("#f-verdict", "")
    await expect(page.locator(".episode")).to_have_count(1)
    assert "seed 200" in (await _rows(page))[0]
    await page.click("#f-clear")
    await expect(page.locator(".episode")).to_have_count(5)


async def test_an_opened_episode_reads_as_a_conversation_with_tools_verdicts_and_rewards(
    page: Any, bus: Bus, run_name: str
) -> None:
    episode = example_episode(run_name, solved=[True, False, True])
    await bus.publish(episode)
    await page.click(f".episode[data-id='{episode.id}']")
    await page.wait_for_selector(".turn")
    turns = page.locator(".turns > .turn")
    assert await turns.count() == 5  # proposer, verifier, three solvers
    assert await turns.nth(0).locator(".role").first.inner_text() == "proposer"
    first = await turns.nth(0).inner_text()
    assert "query=Ada Lovelace algorithm" in first  # the tool call and its arguments
    assert "Analytical Engine" in first  # a document the search returned
    assert "doc-1 Analytical Engine" in first  # and the record's data: the hits by id
    assert await page.locator(".verdict.ok").count() == 3  # valid proposal + two solved
    assert "exact match with '1843'" in await page.locator(".verdicts").inner_text()
    assert await page.locator("table.rewards tbody tr").count() == 4
    # Nothing trained it (no trainer here): the advantage column says so, not a guess.
    advantages = await page.locator("table.rewards tbody td:nth-child(3)").all_inner_texts()
    assert advantages == ["–"] * 4
    await page.click("[data-tab=compare]")
    assert await page.locator(".columns > .turn").count() == 3
    await page.click("[data-tab=graph]")
    assert await page.locator(".graph-svg .node-box").count() == 4  # propose verify solve judge
    assert "solve" in await page.locator(".timeline").inner_text()


async def test_html_and_script_in_an_agent_message_show_as_text_and_never_run(
    page: Any, bus: Bus, run_name: str
) -> None:
    episode = example_episode(run_name, answer=HOSTILE)
    await bus.publish(episode)
    await page.click(f".episode[data-id='{episode.id}']")
    await page.wait_for_selector(".turn")
    shown = await page.locator(".turns").inner_text()
    assert "<script>window.__pwned='script'</script>" in shown
    assert "<b>not bold</b>" in shown
    await page.click("[data-tab=compare]")
    await page.click("[data-tab=raw]")
    assert await page.evaluate("window.__pwned") is None
    assert await page.locator("#detail img, #detail script, #detail b").count() == 0


async def test_the_trainers_advantage_shows_from_its_ledger_and_a_finished_run_says_ended(
    browser: Any, bus: Bus, nats_url: str, run_name: str, tmp_path: Any
) -> None:
    import json

    episode = example_episode(run_name, solved=[True, False, True])
    solver = [r.sample_id for r in episode.rewards if r.role == "solver"]
    (tmp_path / "trainer").mkdir()
    line = {"step": 7, "sample_ids": solver, "advantages": [0.707, -1.414, 0.707]}
    (tmp_path / "trainer" / "trained.jsonl").write_text(json.dumps(line) + "\n")
    server = await serve_inspector(nats_url, run_name, run_dir=tmp_path)  # no nats.url: ended
    context = await browser.new_context()
    try:
        p = await context.new_page()
        p.set_default_timeout(5_000)
        await bus.publish(episode)
        await p.goto(server.url)
        await p.wait_for_selector("#live[data-state=ended]")
        await p.click(f".episode[data-id='{episode.id}']")
        await p.wait_for_selector(".turn")
        text = await p.locator("table.rewards").inner_text()
        assert "-1.414" in text and "0.707" in text  # what GRPO used, not r - mean
        assert (await p.locator("#live").inner_text()) == "ended"
    finally:
        await context.close()
        await server.close()
