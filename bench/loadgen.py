"""A load generator in its own process: `python -m bench.loadgen '<json config>'`.

Config: {"base_url", "token", "paths": [...], "requests", "seconds", "concurrency", "warmup"}.
For each path, `concurrency` workers share one keep-alive httpx client and send GETs until
`requests` were sent or `seconds` passed, whichever is first. Prints one JSON object:
{path: {"latencies": [seconds...], "errors": n, "seconds": elapsed}} on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx


async def _load(client: httpx.AsyncClient, path: str, config: dict[str, Any]) -> dict[str, Any]:
    for _ in range(int(config.get("warmup", 3))):
        await client.get(path)
    latencies: list[float] = []
    errors = 0
    budget = int(config["requests"])
    started = time.perf_counter()
    deadline = started + float(config["seconds"])

    async def worker() -> None:
        nonlocal budget, errors
        while budget > 0 and time.perf_counter() < deadline:
            budget -= 1
            sent = time.perf_counter()
            response = await client.get(path)
            latencies.append(time.perf_counter() - sent)
            if response.status_code != 200:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(int(config["concurrency"]))))
    return {"latencies": latencies, "errors": errors, "seconds": time.perf_counter() - started}


async def main(config: dict[str, Any]) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=int(config["concurrency"]))
    async with httpx.AsyncClient(
        base_url=config["base_url"],
        headers={"Authorization": f"Bearer {config['token']}"},
        timeout=30.0,
        limits=limits,
    ) as client:
        return {path: await _load(client, path, config) for path in config["paths"]}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
