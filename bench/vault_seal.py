"""Seal/open throughput of the vault, with and without per-request data keys. Prints JSON.

Modes:
- `master`: a vault without a key store (everything sealed under the master-derived key);
- `data_keys`: a vault with the SQL key store on a SQLite file (one data key per request,
  unwrapped keys cached in memory); measured for requests whose key is cached (`hot`) and,
  once, for `--requests` distinct requests whose keys have to be created first (`cold`).

    python bench/vault_seal.py                 # 1 KiB and 64 KiB payloads
    python bench/vault_seal.py --ops 50000
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rightsflow.storage.vault import FileVault

SECRET = b"b" * 32


def _rate(ops: int, call: Callable[[int], object]) -> float:
    start = time.perf_counter()
    for i in range(ops):
        call(i)
    return round(ops / (time.perf_counter() - start))


def _measure(vault: Any, ids: list[str], ops: int, size: int) -> dict[str, float]:
    payload = os.urandom(size)
    sealed = [vault.seal(rid, payload) for rid in ids]
    n = len(ids)
    return {
        "seal_per_s": _rate(ops, lambda i: vault.seal(ids[i % n], payload)),
        "open_per_s": _rate(ops, lambda i: vault.open(ids[i % n], sealed[i % n])),
    }


def _keyed_vault(root: Path) -> Any:
    from rightsflow.storage.key_store import (  # noqa: PLC0415 (absent before keys)
        SqlKeyStore,
        open_key_database,
    )

    return FileVault.from_secret(
        SECRET, keys=SqlKeyStore(open_key_database(f"sqlite:///{root / 'keys.db'}"))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args()
    report: dict[str, Any] = {"ops": args.ops}
    hot = [str(uuid.uuid4()) for _ in range(100)]
    for size in (1024, 65536):
        report[f"master_{size}"] = _measure(FileVault.from_secret(SECRET), hot, args.ops, size)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            vault = _keyed_vault(Path(tmp))
            cold = [str(uuid.uuid4()) for _ in range(args.requests)]
            start = time.perf_counter()
            for rid in cold:
                vault.seal(rid, b"x")
            report["data_keys_cold_first_seal_per_s"] = round(
                len(cold) / (time.perf_counter() - start)
            )
            for size in (1024, 65536):
                report[f"data_keys_{size}"] = _measure(vault, hot, args.ops, size)
    except ImportError:
        report["data_keys"] = "not available in this version"
    for size in (1024, 65536):
        keyed, master = report.get(f"data_keys_{size}"), report[f"master_{size}"]
        if isinstance(keyed, dict):
            report[f"ratio_{size}"] = {k: round(keyed[k] / master[k], 3) for k in master}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
