"""Write a world to disk and time it: `python -m sparring.tools.world OUT [--articles N]`.

OUT gets `corpus.jsonl` (the articles, for `sparring index`), `questions.jsonl` (questions of
1, 2 and 3 hops with answers and chains) and `local.jsonl` / `web.jsonl` (the two halves of the
split). The last line printed is JSON: sizes, wall and CPU seconds per stage (CPU time is the fairer
figure on a shared machine), and per hop count how many questions need both halves.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import orjson

from sparring.tools.world.corpus import write_corpus
from sparring.tools.world.questions import Question, make_questions
from sparring.tools.world.split import split_corpus
from sparring.tools.world.world import build_world


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Build, write and report; returns what it prints."""
    parser = argparse.ArgumentParser(prog="python -m sparring.tools.world", description=__doc__)
    parser.add_argument("out", type=Path, help="folder to write into (created if missing)")
    parser.add_argument("--articles", type=int, default=300, help="articles in the world")
    parser.add_argument("--seed", type=int, default=0, help="seed of the world")
    parser.add_argument("--questions", type=int, default=100, help="questions per hop count")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, list[float]] = {}

    def stage(name: str, since: tuple[float, float]) -> tuple[float, float]:
        now = (time.perf_counter(), time.process_time())
        seconds[name] = [round(now[0] - since[0], 3), round(now[1] - since[1], 3)]
        return now

    start = (time.perf_counter(), time.process_time())
    world = build_world(args.articles, seed=args.seed)
    start = stage("build", start)
    asked: list[Question] = []
    for hops in (1, 2, 3):
        asked.extend(make_questions(world, hops, args.questions, seed=args.seed))
    start = stage("questions", start)
    write_corpus(args.out / "corpus.jsonl", world)
    with (args.out / "questions.jsonl").open("wb") as out:
        out.writelines(orjson.dumps(q.model_dump(mode="json")) + b"\n" for q in asked)
    split = split_corpus(world, asked, seed=args.seed)
    for half in ("local", "web"):
        write_corpus(args.out / f"{half}.jsonl", split.articles(world, half))
    stage("write", start)

    report: dict[str, object] = {
        "articles": len(world.articles),
        "facts": len(world.facts),
        "questions": len(asked),
        "seconds_wall_cpu": seconds,
        "need_both": {str(c.hops): [c.need_both, c.questions] for c in split.counts},
    }
    print(orjson.dumps(report).decode())
    return report


if __name__ == "__main__":
    main()
