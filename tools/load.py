"""Load test (``make load``): many concurrent uploads against a server on 127.0.0.1.

Prints accepted uploads per second, the p95 time to accept, and that every job succeeded (exit
1 otherwise). 200 uploads at concurrency 50 by default; bounded in count (``--uploads``) and
time (``--timeout-s``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "clips" / "ankle_clonus.mp4"


async def _upload(client: httpx.AsyncClient, data: bytes, i: int, sem: asyncio.Semaphore):
    async with sem:
        t0 = time.perf_counter()
        files = {"video": ("exam.mp4", data, "video/mp4")}
        r = await client.post("/v1/analyses", files=files, data={"site": "ankle"},
                              headers={"Idempotency-Key": f"load-{i}-{t0}"})  # fmt: skip
        return r.status_code, time.perf_counter() - t0, (r.json().get("id") if r.status_code == 202 else None)


async def run(url: str, key: str, uploads: int, concurrency: int, timeout_s: float) -> int:
    data = SAMPLE.read_bytes()
    sem = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        t0 = time.perf_counter()
        results = await asyncio.gather(*[_upload(client, data, i, sem) for i in range(uploads)])
        elapsed = time.perf_counter() - t0
        ids = [r[2] for r in results if r[0] == 202]
        accept_s = sorted(r[1] for r in results if r[0] == 202)
        print(f"accepted {len(ids)}/{uploads} in {elapsed:.2f} s: {len(ids) / elapsed:.1f} uploads/s")
        if accept_s:
            p95 = accept_s[min(len(accept_s) - 1, int(0.95 * len(accept_s)))]
            median = statistics.median(accept_s)
            print(f"time to accept: median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
        final: dict[str, str] = {}
        deadline = time.perf_counter() + timeout_s
        while len(final) < len(ids) and time.perf_counter() < deadline:
            for i in ids:
                if i not in final:
                    body = (await client.get(f"/v1/analyses/{i}")).json()
                    if body["status"] in ("succeeded", "failed"):
                        final[i] = body["status"]
            await asyncio.sleep(1.0)
        done_s = time.perf_counter() - t0
    lost = len(ids) - len(final)
    print(f"finished {len(final)}/{len(ids)} in {done_s:.1f} s "
          f"(succeeded {sum(v == 'succeeded' for v in final.values())}, "
          f"failed {sum(v == 'failed' for v in final.values())}); unfinished or lost: {lost}")  # fmt: skip
    succeeded = sum(v == "succeeded" for v in final.values())
    return 0 if succeeded == uploads else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", help="API key (default: create one in the configured database)")
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--timeout-s", type=float, default=1800.0)
    args = parser.parse_args(argv)
    key = args.key
    if not key:
        from service.core.config import get_settings
        from service.core.db import migrate, session_for
        from service.keys.service import create_key

        settings = get_settings()
        migrate(settings.resolved_database_url)
        with session_for(settings) as s:
            _, key = create_key(s, f"load-{int(time.time() * 1000)}")
    return asyncio.run(run(args.url, key, args.uploads, args.concurrency, args.timeout_s))


if __name__ == "__main__":
    sys.exit(main())
