"""Time ``audit verify`` on a large log, the draft-01 way against the earlier one (run by hand).

    python bench/audit_verify_bench.py                     # 100 000 events
    python bench/audit_verify_bench.py --events 1000000    # the issue's size
    python bench/audit_verify_bench.py --only new          # skip the slow earlier approach

Issue 16: ``mcp-auth audit verify`` read every row into memory (``fetchall``) and validated
each event with a JSON-Schema validator built for it. This script writes ``--events`` events
into a temporary issuer database through the real append path (``audit.append`` inside
``Database.transaction()``, ``--batch`` events per transaction: the issuer commits one per
request, batching only saves fsyncs), a mix of grant and token events over ``--grants``
grants, then runs each approach in its own child process, so that each peak RSS
(``resource.getrusage``) is its own:

* ``floor``: the hash chain alone (parse, recompute the hash, compare), streamed;
* ``old``: the earlier ``verify_chain`` (every row fetched, ``validate`` per event);
* ``new``: ``verify_chain`` as ``audit verify`` runs it (read-only, batches, one validator).

It prints time, microseconds per event and peak RSS above the interpreter's own for each,
and the old/new ratios. Nothing is left running; the temporary directory is removed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mcp_auth.reference.issuer import audit
from mcp_auth.reference.issuer.audit import GENESIS_HASH, canonical_json, event_hash, verify_chain
from mcp_auth.reference.issuer.storage import Database
from mcp_auth.schemas import SchemaValidationError, validate


def create(path: Path, events: int, batch: int, grants: int) -> float:

    db = Database(path)
    start = time.perf_counter()
    written = 0
    while written < events:
        with db.transaction() as conn:
            for _ in range(min(batch, events - written)):
                i = written
                grant = f"grant-{i % grants}"
                client = f"agent-{i % 17}"
                common = {"grant_id": grant, "sub": f"user-{i % 101}", "client_id": client}
                act = {"actor_type": "agent", "sub": client, "mcpa_model": "model-a"}
                if i % 50 == 0:
                    audit.append(conn, "grant.created", actor=audit.client_actor(client), **common)
                elif i % 50 == 1:
                    audit.append(conn, "grant.approved", actor=audit.user_actor("u"), **common)
                elif i % 3 == 0:
                    audit.append(
                        conn,
                        "token.exchanged",
                        **{**common, "client_id": "tool-1"},
                        act={"actor_type": "tool", "sub": "tool-1", "act": act},
                        token_jti=f"jti-{i}",
                        parent_jti=f"jti-{i - 1}",
                        resource="https://tool-1.example/mcp",
                        scope="files:read",
                    )
                else:
                    audit.append(
                        conn,
                        "token.issued",
                        **common,
                        act=act,
                        token_jti=f"jti-{i}",
                        resource="https://tool-1.example/mcp",
                        scope="files:read files:write",
                    )
                written += 1
    db.close()
    return time.perf_counter() - start


def old_verify(path: Path) -> tuple[bool, int]:
    """The earlier verify_chain, as it was before issue 16 (fetchall, validate per event)."""

    db = Database(path)
    rows = db.query("SELECT seq, event, hash FROM audit ORDER BY seq")
    triples = [(int(r["seq"]), str(r["event"]), str(r["hash"])) for r in rows]
    prev = GENESIS_HASH
    seen: set[str] = set()
    for index, (row_seq, text, stored_hash) in enumerate(triples):
        event = json.loads(text)
        try:
            validate("audit-event", event)
        except SchemaValidationError:
            return False, index
        computed = event_hash(event)
        if (
            row_seq != index + 1
            or event["prev_hash"] != prev
            or event["hash"] != computed
            or stored_hash != computed
            or event["event_id"] in seen
        ):
            return False, index
        seen.add(event["event_id"])
        prev = computed
    db.close()
    return True, len(triples)


def new_verify(path: Path) -> tuple[bool, int]:

    db = Database.open_read_only(path)
    report = verify_chain(db)
    db.close()
    return report.ok, report.checked


def floor_verify(path: Path) -> tuple[bool, int]:

    db = Database.open_read_only(path)
    prev, count = GENESIS_HASH, 0
    for row in db.iter_query("SELECT event, hash FROM audit ORDER BY seq"):
        event = json.loads(row["event"])
        body = {key: value for key, value in event.items() if key != "hash"}
        computed = hashlib.sha256(canonical_json(body)).hexdigest()
        if event["prev_hash"] != prev or row["hash"] != computed:
            return False, count
        prev, count = computed, count + 1
    db.close()
    return True, count


APPROACHES = {"floor": floor_verify, "old": old_verify, "new": new_verify}


def child(approach: str, path: Path) -> None:

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    ok, checked = APPROACHES[approach](path)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps({"ok": ok, "checked": checked, "seconds": seconds, "rss_kib": peak - baseline})
    )


def run(approach: str, path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", approach, "--data-dir", str(path.parent)],
        check=True,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000, help="events per transaction")
    parser.add_argument("--grants", type=int, default=1000)
    parser.add_argument("--only", choices=sorted(APPROACHES), action="append")
    parser.add_argument("--data-dir", type=Path, help="keep the database here (default: temp)")
    parser.add_argument("--child", choices=sorted(APPROACHES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data_dir / "issuer.sqlite3")
        return 0
    keep = args.data_dir is not None
    data = args.data_dir or Path(tempfile.mkdtemp(prefix="audit-bench-"))
    try:
        path = data / "issuer.sqlite3"
        if not path.exists():
            seconds = create(path, args.events, args.batch, args.grants)
            print(f"created {args.events} events in {seconds:.1f} s", flush=True)
        results: dict[str, dict[str, Any]] = {}
        print(f"{'approach':<9} {'events':>9} {'seconds':>9} {'µs/event':>9} {'peak RSS':>10}")
        for name in args.only or ["floor", "new", "old"]:
            r = results[name] = run(name, path)
            assert r["ok"], f"{name}: chain not OK after {r['checked']} events"
            print(
                f"{name:<9} {r['checked']:>9} {r['seconds']:>9.2f} "
                f"{r['seconds'] / max(r['checked'], 1) * 1e6:>9.1f} "
                f"{r['rss_kib'] / 1024:>7.1f} MiB",
                flush=True,
            )
        if "old" in results and "new" in results:
            old, new = results["old"], results["new"]
            print(
                f"old/new: {old['seconds'] / new['seconds']:.1f}x faster, "
                f"peak RSS {old['rss_kib'] / max(new['rss_kib'], 1):.1f}x smaller"
            )
        if "floor" in results and "new" in results:
            print(f"new/floor: {results['new']['seconds'] / results['floor']['seconds']:.2f}x")
    finally:
        if not keep:
            shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
