"""OpenAIPolicy against a real local HTTP server (http.server on loopback), not a mocked client.

The server plays what OpenAI-compatible servers do: a full vLLM-style reply (token ids and
logprobs), a plain one (text only), a 500, a slow reply, a 400. A refused connection is a port
nobody listens on. The real vLLM server is exercised in tests/on_vllm.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sparring.config import RunConfig
from sparring.errors import ConfigError, PolicyError
from sparring.launcher import check_policies
from sparring.messages import ChatMessage
from sparring.policy import SamplingParams, build_tiny_model
from sparring.policy._codec import load_tokenizer
from sparring.policy.config import OpenAIConfig
from sparring.policy.openai_backend import OpenAIPolicy, api_base


class _Server:
    """A loopback HTTP server whose reply each test sets; it records every request."""

    def __init__(self) -> None:
        self.mode = "full"
        self.completion: list[int] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                server.headers.append(dict(self.headers))
                status, reply = server.reply(body)
                if server.mode == "slow":
                    time.sleep(1.0)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def reply(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.mode == "error500":
            return 500, {"error": {"message": "engine crashed"}}
        if self.mode == "bad_request":
            return 400, {"error": {"message": "max_tokens is too large"}}
        ids = self.completion
        choice: dict[str, Any] = {"index": 0, "text": self.text, "finish_reason": "length"}
        if self.mode in ("full", "slow"):
            choice["token_ids"] = ids
            choice["logprobs"] = {"token_logprobs": [-0.5] * len(ids)}
        return 200, {"choices": [choice]}

    text = ""


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return load_tokenizer(build_tiny_model(tmp_path_factory.mktemp("tiny")))


@pytest.fixture
def server(tokenizer: Any) -> Iterator[_Server]:
    s = _Server()
    s.text = "the answer is 5"
    s.completion = tokenizer.encode(s.text, add_special_tokens=False)
    yield s
    s.http.shutdown()


def policy(url: str, tokenizer: Any, *, require: bool = False, **config: Any) -> OpenAIPolicy:
    settings = {"url": url, "model": "judge", "retry_backoff_s": 0.01} | config
    return OpenAIPolicy(OpenAIConfig(**settings), tokenizer, require_logprobs=require)


ASK = [ChatMessage(role="user", content="2+3=")]


async def test_token_ids_and_logprobs_come_from_the_server(
    server: _Server, tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUDGE_KEY", "sk-test")
    p = policy(server.url, tokenizer, require=True, api_key_env="JUDGE_KEY")
    gen = await p.generate(ASK, SamplingParams(max_new_tokens=16, stop=("\n",)))
    assert gen.completion_ids == server.completion and gen.logprobs == [-0.5] * len(
        gen.completion_ids
    )
    assert gen.text == server.text and gen.finish_reason == "length"
    sent = server.requests[-1]
    # The prompt travels as the ids the episode records, rendered locally.
    assert sent["prompt"] == gen.prompt_ids == p.render(ASK)
    assert sent["model"] == "judge" and sent["max_tokens"] == 16 and sent["stop"] == ["\n"]
    assert sent["return_token_ids"] is True and sent["logprobs"] == 1
    assert server.headers[-1]["Authorization"] == "Bearer sk-test"
    await p.aclose()


async def test_no_key_in_the_environment_sends_no_authorization(
    server: _Server, tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    p = policy(server.url, tokenizer)
    await p.generate(ASK, SamplingParams(max_new_tokens=4))
    assert "Authorization" not in server.headers[-1]
    await p.aclose()


async def test_a_server_without_token_ids_or_logprobs(server: _Server, tokenizer: Any) -> None:
    server.mode = "plain"
    frozen = policy(server.url, tokenizer)
    gen = await frozen.generate(ASK, SamplingParams(max_new_tokens=16))
    # A frozen role is never trained: its ids re-encoded from the text, no logprobs.
    assert gen.completion_ids == tokenizer.encode(server.text, add_special_tokens=False)
    assert gen.text == server.text and gen.logprobs == []
    trained = policy(server.url, tokenizer, require=True)
    with pytest.raises(PolicyError, match=r"no completion token ids.*return_token_ids"):
        await trained.generate(ASK, SamplingParams(max_new_tokens=16))
    await frozen.aclose()
    await trained.aclose()


async def test_a_500_is_retried_then_reported(server: _Server, tokenizer: Any) -> None:
    server.mode = "error500"
    p = policy(server.url, tokenizer, retries=2)
    with pytest.raises(PolicyError, match=r"HTTP 500.*engine crashed.*after 3 tries"):
        await p.generate(ASK, SamplingParams(max_new_tokens=4))
    assert len(server.requests) == 3
    await p.aclose()


async def test_a_400_is_not_retried(server: _Server, tokenizer: Any) -> None:
    server.mode = "bad_request"
    p = policy(server.url, tokenizer, retries=2)
    with pytest.raises(PolicyError, match=r"refused the request: HTTP 400.*max_tokens"):
        await p.generate(ASK, SamplingParams(max_new_tokens=4))
    assert len(server.requests) == 1
    await p.aclose()


async def test_a_timeout_is_retried_then_reported(server: _Server, tokenizer: Any) -> None:
    server.mode = "slow"
    p = policy(server.url, tokenizer, retries=1, timeout_s=0.2)
    with pytest.raises(PolicyError, match=r"no reply within 0.2 s.*after 2 tries"):
        await p.generate(ASK, SamplingParams(max_new_tokens=4))
    await p.aclose()


async def test_a_refused_connection_says_it_could_not_reach_the_server(tokenizer: Any) -> None:
    with socket.socket() as s:  # a port that was free a moment ago, nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = policy(f"http://127.0.0.1:{port}", tokenizer, retries=1)
    with pytest.raises(PolicyError, match=r"could not reach the server.*ConnectError.*2 tries"):
        await p.generate(ASK, SamplingParams(max_new_tokens=4))
    await p.aclose()


async def test_it_cannot_load_weights(server: _Server, tokenizer: Any) -> None:
    with pytest.raises(PolicyError, match="not trained"):
        await policy(server.url, tokenizer).load_weights(b"", 1)


def test_api_base_adds_v1_to_a_bare_host() -> None:
    assert api_base("http://127.0.0.1:8000") == "http://127.0.0.1:8000/v1"
    assert api_base("http://127.0.0.1:8000/v1/") == "http://127.0.0.1:8000/v1"
    assert api_base("https://example.com/proxy") == "https://example.com/proxy/v1"


def test_the_config_binds_roles_and_refuses_a_trained_server(tmp_path: Path) -> None:
    judge = {"policy": {"backend": "openai", "openai": {"url": "http://h", "model": "m"}}}
    config = RunConfig.model_validate({"game": "arith", "roles": {"proposer": judge}})
    assert config.roles["proposer"].policy.openai is not None
    with pytest.raises(ValueError, match="needs its server"):
        RunConfig.model_validate({"roles": {"proposer": {"policy": {"backend": "openai"}}}})
    with pytest.raises(ValueError, match="shared policy is trained"):
        RunConfig.model_validate({"policy": judge["policy"]})
    from sparring.graphs import load_game

    game = load_game("arith")
    check_policies(game, config)
    wrong = RunConfig.model_validate({"game": "arith", "roles": {"judge": judge}})
    with pytest.raises(ConfigError, match=r"roles.judge.*no role 'judge'.*plays: .*solver"):
        check_policies(game, wrong)


def test_a_vllm_backend_without_vllm_installed_is_refused_before_anything_starts() -> None:
    import importlib.util

    from sparring.graphs import load_game

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here: the refusal is for environments without it")
    config = RunConfig.model_validate({"game": "arith", "policy": {"backend": "vllm"}})
    with pytest.raises(ConfigError, match=r"policy.backend.*needs vLLM.*setup.sh --vllm"):
        check_policies(load_game("arith"), config)
