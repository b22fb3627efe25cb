"""OpenAIPolicy: the Policy protocol over an OpenAI-compatible server's /v1/completions.

    policy = OpenAIPolicy(OpenAIConfig(url="http://127.0.0.1:8000/v1", model="judge"), tokenizer)
    gen = await policy.generate(messages, SamplingParams(max_new_tokens=64))

For a role played by a separate deployment: a frozen judge or verifier (Search Self-Play's RAG
check and LLM judge run on their own server), or any model a team already serves with vLLM or
SGLang. The prompt travels as token ids rendered by the local tokenizer (the legacy completions
API takes token arrays), so the server sees exactly what the episode records. Token ids of the
completion come from the server when it returns them (vLLM's `return_token_ids`), logprobs
from `logprobs`.

A policy built with `require_logprobs=True` (its samples would be trained) refuses a reply
without completion token ids or logprobs, naming the missing feature. Otherwise (a frozen
role, never trained) missing ids are re-encoded from the text and missing logprobs left empty.

Failures: a refused connection, a timeout, a 429 or a 5xx is retried `retries` times with
doubling back-off, then raised as a PolicyError saying what happened and where; any other HTTP
error is raised at once with the server's message. The API key is read from the environment
variable `api_key_env` names, never from config.
"""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any
from urllib.parse import urlparse

from sparring.errors import PolicyError
from sparring.policy._codec import Codec, Tokenized, eos_ids
from sparring.policy._finish import cut_completion
from sparring.policy.base import Generation, Prompt, SamplingParams, WeightsFormat
from sparring.policy.config import OpenAIConfig

__all__ = ["OpenAIPolicy", "api_base"]

_RETRIED_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def api_base(url: str) -> str:
    """The API's base URL: `url` without a trailing slash, with /v1 added to a bare host."""
    url = url.rstrip("/")
    return url if re.search(r"/v\d+$", urlparse(url).path) else f"{url}/v1"


class OpenAIPolicy(Tokenized):
    """A fixed model behind an OpenAI-compatible server, asked over HTTP."""

    def __init__(
        self,
        config: OpenAIConfig,
        tokenizer: Any,
        *,
        require_logprobs: bool = False,
        max_positions: int | None = None,
        version: int = 0,
    ) -> None:
        self.config = config
        self._codec = Codec(tokenizer, max_positions)
        self._eos = eos_ids(None, tokenizer)
        self._require = require_logprobs
        self._version = version
        self._base = api_base(config.url)
        self._client: Any = None

    @property
    def version(self) -> int:
        return self._version

    async def generate(self, prompt: Prompt, params: SamplingParams) -> Generation:
        prompt_ids = self._codec.prompt_ids(prompt, params)
        body: dict[str, Any] = {
            "model": self.config.model,
            "prompt": prompt_ids,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p if params.temperature > 0 else 1.0,
            "logprobs": 1,
            # vLLM's fields: completion token ids, and the stop string kept in the text (the
            # rule every backend shares); other servers ignore them.
            "return_token_ids": True,
            "include_stop_str_in_output": True,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        reply = await self._post("/completions", body)
        ids, logprobs = self._completion(reply)
        ids, logprobs, reason = cut_completion(ids, logprobs, params, self._eos, self.decode)
        if not self._require and len(logprobs) != len(ids):
            logprobs = []
        return Generation(
            prompt_ids=prompt_ids,
            completion_ids=ids,
            logprobs=logprobs,
            text=self.decode(ids),
            finish_reason=reason,
            policy_version=self._version,
        )

    async def load_weights(self, data: bytes, version: int, format: WeightsFormat = "full") -> None:
        raise PolicyError(
            f"OpenAIPolicy serves the model its server loaded and cannot load version {version}: "
            "bind a server only to roles that are not trained (roles.<role>.policy), or serve "
            "the trained policy with backend 'vllm'"
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _completion(self, reply: dict[str, Any]) -> tuple[list[int], list[float]]:
        """Completion ids and logprobs of a reply, or what it lacks."""
        try:
            choice = reply["choices"][0]
            text: str = choice.get("text") or ""
        except (KeyError, IndexError, TypeError) as e:
            raise PolicyError(
                f"{self._base}/completions replied without choices: {reply!r:.200}"
            ) from e
        ids = choice.get("token_ids")
        entries = (choice.get("logprobs") or {}).get("token_logprobs")
        if self._require and ids is None:
            raise PolicyError(
                f"{self._base} returned no completion token ids, and this policy's samples are "
                "trained: serve it with vLLM (which honours return_token_ids) or another server "
                "that returns them"
            )
        if self._require and entries is None:
            raise PolicyError(
                f"{self._base} returned no logprobs, and this policy's samples are trained: use "
                "a server that returns completion logprobs (vLLM: logprobs=1)"
            )
        ids = [int(t) for t in ids] if ids is not None else self.encode(text)
        logprobs = [float(x) for x in entries or [] if x is not None]
        return ids, logprobs

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        if self._client is None:
            key = os.environ.get(self.config.api_key_env, "")
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            self._client = httpx.AsyncClient(headers=headers, timeout=self.config.timeout_s)
        url = self._base + path
        wait = self.config.retry_backoff_s
        tries = self.config.retries + 1
        for attempt in range(1, tries + 1):
            try:
                response = await self._client.post(url, json=body)
            except httpx.TimeoutException:
                problem = f"no reply within {self.config.timeout_s:g} s (openai.timeout_s)"
            except httpx.TransportError as e:
                problem = f"could not reach the server ({type(e).__name__}: {e})"
            else:
                if response.status_code < 400:
                    return _json(response, url)
                problem = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code not in _RETRIED_STATUS:
                    raise PolicyError(f"{url} refused the request: {problem}")
            if attempt < tries:
                await asyncio.sleep(wait)
                wait *= 2
        raise PolicyError(f"{url}: {problem}, after {tries} tries (openai.retries)")


def _json(response: Any, url: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as e:
        raise PolicyError(f"{url} replied with no JSON: {response.text[:200]!r}") from e
    if not isinstance(data, dict):
        raise PolicyError(f"{url} replied with {type(data).__name__}, not an object")
    return data
