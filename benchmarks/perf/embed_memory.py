"""Memory of ``embed_file`` on a million-row input: anonymous vs file-backed resident memory.

Writes ``--n`` synthetic prompts (default 1,000,000) as JSON Lines, then runs
:func:`safetymix.embed.embed_file` twice into 384-dim float32 ``.npy`` files: cold (every
text encoded) and warm (every row read from the cache). The model is replaced by a
deterministic toy encoder (an :class:`~safetymix.embed.Encoder` backend drawing a unit
vector from each text's hash), because what is measured is the pipeline's memory, not the
model's speed (a million MiniLM encodings take hours on this machine).

A background thread samples ``RssAnon`` (heap: what the process really holds) and
``RssFile`` (pages of the memory-mapped output and cache files, which the kernel writes back
or drops as it needs) from ``/proc/self/status`` every 0.1 s, after a baseline taken with
the libraries imported. The output alone is n x 384 x 4
bytes (1.43 GiB at 1M): peak anonymous memory far below that shows the vectors are never
held in RAM.

Usage::

    nice -n 10 python benchmarks/perf/embed_memory.py [--n 1000000]
        # -> benchmarks/perf/results/embed_memory.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from throughput_env import machine, write_result


def toy_backend(texts: list[str]) -> np.ndarray:
    """A unit vector per text, seeded by its sha256 (stands in for the model)."""
    rows = []
    for t in texts:
        seed = int.from_bytes(hashlib.sha256(t.encode("utf-8")).digest()[:8])
        rows.append(np.random.default_rng(seed).standard_normal(384, dtype=np.float32))
    vecs = np.stack(rows)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


class RssSampler:
    """Peak RssAnon / RssFile (MiB) of this process, sampled every 0.1 s."""

    def __init__(self) -> None:
        self.peak = {"anon_mib": 0, "file_mib": 0}
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            with open("/proc/self/status") as fh:
                status = dict(line.split(":", 1) for line in fh if line.startswith(("RssAnon", "RssFile")))
            self.peak["anon_mib"] = max(self.peak["anon_mib"], int(status["RssAnon"].split()[0]) // 1024)
            self.peak["file_mib"] = max(self.peak["file_mib"], int(status["RssFile"].split()[0]) // 1024)
            time.sleep(0.1)

    def take(self) -> dict[str, int]:
        out = dict(self.peak)
        self.peak.update(anon_mib=0, file_mib=0)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    from safetymix.embed import Encoder, embed_file, open_embeddings

    env = machine()
    tmp = Path(tempfile.mkdtemp(prefix="embed-memory-"))
    try:
        data = tmp / "pool.jsonl"
        with open(data, "w", encoding="utf-8") as fh:
            for i in range(args.n):
                fh.write(
                    json.dumps({"instruction": f"synthetic prompt number {i} about topic {i % 977}"}) + "\n"
                )
        sampler = RssSampler()
        time.sleep(0.3)
        baseline = sampler.take()  # torch and co. are already imported (by machine())
        runs = {}
        for name in ("cold", "warm"):
            enc = Encoder("toy-384", cache_root=tmp / "cache", backend=toy_backend)
            start = time.perf_counter()
            report = embed_file(data, tmp / f"{name}.npy", encoder=enc)
            runs[name] = {
                "wall_s": round(time.perf_counter() - start, 1),
                "n_encoded": report["n_encoded"],
                "n_cached": report["n_cached"],
                **sampler.take(),
            }
            print(f"{name}: {runs[name]}", file=sys.stderr)
        cold, warm = open_embeddings(tmp / "cold.npy"), open_embeddings(tmp / "warm.npy")
        assert np.array_equal(cold[::9973], warm[::9973])
        result = {
            "machine": env,
            "n": args.n,
            "dim": 384,
            "output_mib": round(cold.nbytes / 2**20, 1),
            "baseline_anon_mib": baseline["anon_mib"],
            "runs": runs,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result("embed_memory", result, args.out)
    print(
        f"{args.n} rows x 384 float32 = {result['output_mib']} MiB output; peak anonymous memory "
        f"cold {runs['cold']['anon_mib']} MiB, warm {runs['warm']['anon_mib']} MiB "
        f"(baseline before the runs {baseline['anon_mib']} MiB) "
        f"(file-backed pages of the memory maps: {runs['cold']['file_mib']} / {runs['warm']['file_mib']} MiB)"
        f"\n-> {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
