"""KEK rotation throughput: re-wrap N live data keys in a SQLite key database. Prints JSON.

python bench/kek_rotate.py --keys 20000 --batch 500
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from pathlib import Path

from rightsflow.storage import kek_rotation
from rightsflow.storage.data_keys import aad
from rightsflow.storage.kek import KekRing, LocalKekProvider
from rightsflow.storage.key_store import SqlKeyStore, open_key_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=kek_rotation.DEFAULT_BATCH)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlKeyStore(open_key_database(f"sqlite:///{Path(tmp) / 'keys.db'}"))
        provider = LocalKekProvider(os.urandom(32))
        store.add_version(1, provider.new_key_id(1))
        v1 = provider.kek("local:v1")
        rows = [str(uuid.uuid4()) for _ in range(args.keys)]
        store.adopt((rid, v1.wrap(os.urandom(32), aad(rid)), 1) for rid in rows)
        ring = KekRing(provider, store.versions)
        started = time.perf_counter()
        report = kek_rotation.rewrap(
            store, ring, kek_rotation.begin(store, provider, ring), args.batch
        )
        seconds = time.perf_counter() - started
        store.engine.dispose()
    result = {
        "keys": args.keys,
        "batch": args.batch,
        "rewrapped": report.rewrapped,
        "seconds": round(seconds, 2),
        "keys_per_s": round(report.rewrapped / seconds),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
