"""The hand-written limit for the comparison run: the same work with no framework.

Each workload does by hand what the framework workloads of the same name do (keep a history,
call the model, stream the reply; or one streamed HTTP request read line by line) and prints
one JSON object in milliseconds. Run by ``tests/benchmarks/test_compare_bench.py``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

REPLY = "A short scripted reply of about sixty characters, every turn."


async def per_turn(histories: list[int], measured: int = 20) -> dict:
    """A history list, a model that yields one chunk, the reply appended: nothing else."""

    async def model(messages):
        yield REPLY

    results = {}
    for history in histories:
        messages = [{"role": "system", "content": "You answer briefly."}]
        for i in range(history):
            messages += [
                {"role": "user", "content": f"q{i}"},
                {"role": "assistant", "content": REPLY},
            ]
        times = []
        for i in range(measured):
            start = time.perf_counter()
            messages.append({"role": "user", "content": f"measured {i}"})
            text = [chunk async for chunk in model(tuple(messages))]
            messages.append({"role": "assistant", "content": "".join(text)})
            times.append(time.perf_counter() - start)
        results[str(history)] = statistics.median(times) * 1000
    return results


async def http_turn(url: str, runs: int = 30) -> dict:
    """One streamed chat-completions request with raw httpx, its text joined from the SSE."""
    import httpx

    messages = [{"role": "system", "content": "You answer briefly."}]
    times = []
    async with httpx.AsyncClient(
        base_url=url, headers={"authorization": "Bearer sk-bench"}
    ) as client:
        for i in range(runs + 1):
            start = time.perf_counter()
            messages.append({"role": "user", "content": f"question {i}"})
            body = {"model": "short", "messages": messages, "stream": True}
            text = []
            async with client.stream("POST", "/chat/completions", json=body) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        for choice in json.loads(line[6:])["choices"]:  # none in the usage chunk
                            text.append(choice["delta"].get("content") or "")
            messages.append({"role": "assistant", "content": "".join(text)})
            if i:  # the first request opens the connection
                times.append(time.perf_counter() - start)
    return {"median": statistics.median(times) * 1000}


async def first_delta(url: str, prepared: bool) -> dict:
    """A fresh process's first streamed request with raw httpx, to the first content delta.

    ``import httpx`` comes before the clock starts. Not *prepared*: the client (with its TLS
    context and httpcore import) is made on the clock, as a bare script does. *prepared*: it
    is made before, as a backend does when it is built.
    """
    import httpx

    body = {"model": "short", "messages": [{"role": "user", "content": "hello"}], "stream": True}
    headers = {"authorization": "Bearer sk-bench"}
    if prepared:
        client = httpx.AsyncClient(base_url=url, headers=headers)
    start = time.perf_counter()
    if not prepared:
        client = httpx.AsyncClient(base_url=url, headers=headers)
    first = None
    async with client:
        async with client.stream("POST", "/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if first is not None or not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                for choice in json.loads(line[6:])["choices"]:
                    if choice["delta"].get("content"):
                        first = time.perf_counter() - start
    return {"first_delta": first * 1000}


WORKLOADS = {
    "first_delta": lambda args: first_delta(args[0], prepared=args[1:] == ["prepared"]),
    "per_turn": lambda args: per_turn([int(n) for n in args[0].split(",")]),
    "http_turn": lambda args: http_turn(args[0]),
}

if __name__ == "__main__":
    import trio

    name, *rest = sys.argv[1:]
    print(json.dumps(trio.run(WORKLOADS[name], rest)))
