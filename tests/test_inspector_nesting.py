"""Sub-agent calls nested under the tool call that ran them, in a real headless Chromium.

A hiersearch planner's `<local>` and `<web>` tools run a sub-agent and its refiner; the tool
call's `data["calls"]` names their turns' `call_id`s, and the inspector draws those turns inside
the tool call's box and in the graph tab's call tree. Same set-up as test_inspector_browser.py:
the distribution's Chromium (skipped without it), a real nats-server, the real inspector.
"""

from __future__ import annotations

from typing import Any

from browser_support import needs_chromium

from sparring.bus import Bus
from sparring.inspector.examples import example_episode
from sparring.messages import (
    SCHEMA_VERSION,
    ChatMessage,
    Episode,
    NodeTiming,
    SampleReward,
    Task,
    ToolCall,
    Turn,
    Verdict,
    new_id,
)

HOSTILE = "<script>window.__pwned='nested'</script><b>not bold</b>"

pytestmark = needs_chromium


def _turn(role: str, node: str, completion: str, *, call_id: str = "", **fields: Any) -> Turn:
    return Turn(
        role=role,
        node=node,
        messages=[ChatMessage(role="user", content=f"the {role}'s prompt")],
        completion=completion,
        call_id=call_id,
        **fields,
    )


def _delegation(
    tool: str, agent: str, calls: list[str], kept: list[str], dropped: list[str]
) -> ToolCall:
    return ToolCall(
        name=tool,
        arguments={"question": f"{tool} sub-question"},
        result=f"answer from {agent}",
        data={
            "agent": agent,
            "calls": list(calls),
            "answer": f"{agent} says 1843",
            "refiner": "policy",
            "kept": list(kept),
            "dropped": list(dropped),
        },
        duration_s=0.4,
    )


def _episode(run: str, turns: list[Turn], **fields: Any) -> Episode:
    task = Task(run=run, game="hiersearch", params={"question": "when?"})
    return Episode(
        schema_version=SCHEMA_VERSION, run=run, game="hiersearch", task=task, turns=turns, **fields
    )


def hiersearch_episode(run: str) -> Episode:
    """A planner whose `local` and `web` calls each ran a sub-agent and two refiner judgements,
    recorded (as the graph records them) before the planner's own turn; plus a judge's turn."""
    ids = {name: new_id() for name in ["la", "lr1", "lr2", "wa", "wr1", "wr2", "plan"]}
    samples = {name: new_id() for name in ["la", "lr1", "plan"]}
    search = ToolCall(name="search", arguments={"query": "Ada"}, result="doc-l1 doc-l2")
    turns = [
        _turn("local_agent", "local_search", "<answer>1843</answer>", call_id=ids["la"],
              tool_calls=[search], sample_id=samples["la"], duration_s=0.3),
        _turn("refiner", "local_refine", "keep", call_id=ids["lr1"], sample_id=samples["lr1"]),
        _turn("refiner", "local_refine", HOSTILE, call_id=ids["lr2"]),
        _turn("web_agent", "web_search", "<answer>1843</answer>", call_id=ids["wa"]),
        _turn("refiner", "web_refine", "keep", call_id=ids["wr1"]),
        _turn("refiner", "web_refine", "drop", call_id=ids["wr2"]),
        _turn("planner", "plan", "<answer>1843</answer>", call_id=ids["plan"],
              sample_id=samples["plan"], duration_s=1.5, tool_calls=[
                  _delegation("local", "local_agent", [ids["la"], ids["lr1"], ids["lr2"]],
                              kept=["doc-l1"], dropped=["doc-l2"]),
                  _delegation("web", "web_agent", [ids["wa"], ids["wr1"], ids["wr2"]],
                              kept=["doc-w1"], dropped=["doc-w2"]),
              ]),
        _turn("judge", "judge", "1843 matches"),
    ]  # fmt: skip
    group = new_id()
    rewards = [
        SampleReward(sample_id=samples["plan"], role="planner", group_id=group, reward=1.0),
        SampleReward(sample_id=samples["la"], role="local_agent", group_id=group, reward=0.5),
        SampleReward(sample_id=samples["lr1"], role="refiner", group_id=group, reward=-0.25),
    ]
    verdicts = [
        Verdict(role="planner", name="solved", ok=True, sample_id=samples["plan"]),
        Verdict(role="local_agent", name="delegated", ok=False, sample_id=samples["la"]),
    ]
    path = [NodeTiming(node="plan", started_at=0.0, duration_s=1.5)]
    return _episode(run, turns, rewards=rewards, verdicts=verdicts, path=path)


async def _open(page: Any, bus: Bus, episode: Episode) -> None:
    await bus.publish(episode)
    await page.click(f".episode[data-id='{episode.id}']")
    await page.wait_for_selector(".turn")


async def test_sub_agent_and_refiner_turns_are_drawn_inside_the_planners_tool_call(
    page: Any, bus: Bus, run_name: str
) -> None:
    await _open(page, bus, hiersearch_episode(run_name))
    top = page.locator(".turns > .turn")
    assert await top.count() == 2  # the planner and the judge; nothing nested leaks up here
    assert await top.locator(":scope > .turn-head .role").all_inner_texts() == ["planner", "judge"]
    indices = await top.locator(":scope > .turn-head .turn-index").all_inner_texts()
    assert indices == ["#7", "#8"]  # numbered by their place in ep.turns
    tools = page.locator(".turns > .turn-planner > .tools > .tool")
    assert await tools.count() == 2
    local, web = tools.nth(0), tools.nth(1)
    assert await local.locator(".sub-turns .turn .turn-head .role").all_inner_texts() == [
        "local_agent",
        "refiner",
        "refiner",
    ]
    assert await web.locator(".sub-turns .turn .turn-head .role").all_inner_texts() == [
        "web_agent",
        "refiner",
        "refiner",
    ]
    summary = await local.locator(".sub-call > details > summary").first.inner_text()
    assert summary == "answered by local_agent (local_search)"
    assert await page.locator(".sub-call > details[open]").count() == 6  # open by default
    # The nested card is a full card: its own number, tool call, verdict and reward badges.
    agent = local.locator(".turn-local_agent")
    head = await agent.locator(".turn-head").inner_text()
    assert "#1" in head and "delegated ✗" in head and "reward 0.5" in head
    assert await agent.locator(".tool .tool-name").inner_text() == "search"
    assert "reward -0.25" in await local.locator(".turn-refiner").first.inner_text()
    # The delegation's record: kept and dropped ids and the refiner mode, not the calls' ids.
    record = await local.locator(":scope > .delegation").inner_text()
    assert "policy" in record and "1843" in record
    assert await local.locator(".doc-ids-kept li").all_inner_texts() == ["doc-l1"]
    assert await local.locator(".doc-ids-dropped li").all_inner_texts() == ["doc-l2"]
    assert "calls" not in record
    # A refiner's completion with markup is shown as text, never run or parsed.
    assert HOSTILE in await local.locator(".turn-refiner").nth(1).inner_text()
    assert await page.locator("#detail script, #detail b").count() == 0
    assert await page.evaluate("window.__pwned") is None


async def test_the_call_tree_shows_planner_then_tool_then_sub_agent_and_refiner(
    page: Any, bus: Bus, run_name: str
) -> None:
    await _open(page, bus, hiersearch_episode(run_name))
    await page.click("[data-tab=graph]")
    roots = page.locator(".call-tree > li.call")
    assert await roots.count() == 2
    planner = roots.nth(0)
    assert await planner.locator(":scope > .call-line .role").inner_text() == "planner"
    assert "reward 1" in await planner.locator(":scope > .call-line").inner_text()
    branches = planner.locator(":scope > ul > li.call-tool")
    assert await branches.locator(":scope > .call-line .tool-name").all_inner_texts() == [
        "local",
        "web",
    ]
    local = branches.nth(0).locator(":scope > ul > li.call")
    assert await local.locator(".call-line .node").all_inner_texts() == [
        "local_search",
        "local_refine",
        "local_refine",
    ]
    assert "300 ms" in await local.nth(0).inner_text()
    assert await roots.nth(1).locator("li").count() == 0  # the judge ran nothing


async def test_an_episode_without_links_lists_every_turn_at_top_level(
    page: Any, bus: Bus, run_name: str
) -> None:
    episode = example_episode(run_name, solved=[True, False, True])
    await _open(page, bus, episode)
    assert await page.locator(".turns > .turn").count() == len(episode.turns)
    assert await page.locator(".sub-turns").count() == 0
    await page.click("[data-tab=graph]")
    assert await page.locator(".call-tree > li.call").count() == len(episode.turns)
    assert await page.locator(".call-tree ul").count() == 0


async def test_links_that_repeat_or_loop_draw_each_turn_once_and_may_recurse(
    page: Any, bus: Bus, run_name: str
) -> None:
    a, b, c = new_id(), new_id(), new_id()

    def calls(*ids: str) -> list[ToolCall]:
        return [ToolCall(name="ask", data={"calls": list(ids), "kept": [], "dropped": []})]

    turns = [
        _turn("planner", "a", "A", call_id=a, tool_calls=calls(b)),
        _turn("local_agent", "b", "B", call_id=b, tool_calls=calls(c, a)),  # a: a cycle
        _turn("refiner", "c", "C", call_id=c, tool_calls=calls(c)),  # itself: a cycle
        _turn("judge", "d", "D", tool_calls=calls(b, "no-such-call")),  # b again: under a
    ]
    await _open(page, bus, _episode(run_name, turns))
    top = page.locator(".turns > .turn")
    assert await top.locator(":scope > .turn-head .node").all_inner_texts() == ["a", "d"]
    assert await page.locator(".turn").count() == 4  # each turn once
    nested = top.nth(0).locator(".sub-turns .turn .turn-head .node")
    assert await nested.all_inner_texts() == ["b", "c"]  # c under b under a
    assert await top.nth(1).locator(".sub-turns").count() == 0
    assert "none" in await top.nth(1).locator(".doc-ids-kept").inner_text()
