"""`sparring tail RUN`: a run's episodes printed in the terminal as they arrive (with rich).

Replays the episode stream from the start, then follows it live, printing each episode that
passes the filters (the same `EpisodeFilter` as the web page) as a short block: a header line,
the task, one line per turn (role, node, what it wrote, its verdicts and reward, its tool calls)
and the verdict totals.

Model output is untrusted here too: it is added to rich `Text` objects as plain text (never
parsed as markup) and control characters are made visible, so a completion cannot move the
cursor, recolour the terminal or forge lines.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import unicodedata

from rich.console import Console, Group
from rich.rule import Rule
from rich.text import Text

from sparring.inspector.filters import EpisodeFilter
from sparring.inspector.source import connect, feed, open_run
from sparring.inspector.store import EpisodeStore
from sparring.inspector.summary import verdict_badges
from sparring.messages import Episode, SampleReward, Turn, Verdict

__all__ = ["main", "render_episode", "tail"]

ROLE_STYLES = {
    "proposer": "bold magenta",
    "solver": "bold blue",
    "verifier": "bold yellow",
    "judge": "bold green",
    "planner": "bold cyan",
    "refiner": "bold red",
}
_LINE_CHARS = 160


def clean(text: str, limit: int = _LINE_CHARS) -> str:
    """Model text on one line: whitespace folded, control characters (and bidi overrides)
    shown as \\xNN or \\uNNNN, cut to `limit`."""
    flat = " ".join(text.split())
    safe = "".join(_visible(c) if unicodedata.category(c) in ("Cc", "Cf") else c for c in flat)
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"


def _visible(c: str) -> str:
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def render_episode(episode: Episode) -> Group:
    """One episode as a block of rich renderables (all model text as plain Text)."""
    rewards = {r.sample_id: r for r in episode.rewards}
    verdicts: dict[str, list[Verdict]] = {}
    for v in episode.verdicts:
        if v.sample_id is not None:
            verdicts.setdefault(v.sample_id, []).append(v)
    lines: list[Text | Rule] = [_header(episode)]
    params = " ".join(f"{k}={v}" for k, v in episode.task.params.items())
    lines.append(Text.assemble(("  task ", "dim"), clean(params or "(no parameters)")))
    for turn in episode.turns:
        lines.extend(_turn(turn, rewards, verdicts))
    badges = verdict_badges(episode)
    if badges:
        totals = Text("  verdicts ", style="dim")
        for b in badges:
            style = "green" if b["ok"] == b["total"] else "red" if b["ok"] == 0 else "yellow"
            totals.append(f"{clean(b['name'], 40)} {b['ok']}/{b['total']}  ", style=style)
        lines.append(totals)
    for error in episode.errors:
        lines.append(Text.assemble(("  error ", "bold red"), clean(error)))
    return Group(*lines)


def _header(episode: Episode) -> Rule:
    when = time.strftime("%H:%M:%S", time.localtime(episode.started_at))
    tokens = sum(t.prompt_tokens + t.completion_tokens for t in episode.turns)
    title = (
        f"{when}  {clean(episode.game, 40)}  v{episode.policy_version}  {episode.id[-12:]}  "
        f"{episode.duration_s:.2f} s  {tokens} tok"
    )
    return Rule(Text(title, style="bold"), align="left", style="dim")


def _turn(
    turn: Turn, rewards: dict[str, SampleReward], verdicts: dict[str, list[Verdict]]
) -> list[Text]:
    line = Text("  ")
    line.append(f"{turn.role:<9}", style=ROLE_STYLES.get(turn.role, "bold"))
    line.append(f"{clean(turn.node, 16):<12}", style="dim")
    line.append(clean(turn.completion) or "(empty)")
    for v in verdicts.get(turn.sample_id or "", []):
        mark = "✓" if v.ok else "✗"
        line.append(f"  {mark} {clean(v.name, 40)}", style="green" if v.ok else "red")
    reward = rewards.get(turn.sample_id or "")
    if reward is not None:
        style = "green" if reward.reward > 0 else "red" if reward.reward < 0 else "dim"
        line.append(f"  reward {reward.reward:g}", style=style)
    lines = [line]
    for call in turn.tool_calls:
        args = " ".join(f"{k}={v}" for k, v in call.arguments.items())
        outcome = f"error: {call.error}" if call.error else f"{len(call.result)} chars"
        lines.append(
            Text.assemble(
                ("      ⚙ ", "dim"),
                (clean(call.name, 40), "bold"),
                " ",
                clean(args, 80),
                (f"  → {clean(outcome, 80)}", "red" if call.error else "dim"),
            )
        )
    return lines


async def tail(
    bus_url: str, run: str, wanted: EpisodeFilter, console: Console | None = None
) -> None:
    """Print `run`'s matching episodes to `console` (stdout), replayed then live, until
    cancelled."""
    out = console or Console(highlight=False)
    bus = await connect(bus_url, run)

    def show(episode: Episode) -> None:
        if wanted.matches(episode):
            out.print(render_episode(episode))

    # The store is what keeps a reconnection's replay from printing episodes twice.
    await feed(EpisodeStore(), bus_url, run, bus, on_episode=show)


def main(args: argparse.Namespace) -> int:
    """`sparring tail`: follow the run until Ctrl-C."""
    wanted = EpisodeFilter.from_args(args)
    asyncio.run(_tail_run(args, wanted))
    return 0


async def _tail_run(args: argparse.Namespace, wanted: EpisodeFilter) -> None:
    async with open_run(args.run, args.nats) as (bus_url, run):
        Console(stderr=True).print(Text(f"following run {run} (Ctrl-C stops)", style="dim"))
        await tail(bus_url, run, wanted)
