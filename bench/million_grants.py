"""Create and approve a million grants through the issuer's storage layer (run by hand).

    python bench/million_grants.py                    # 1 000 000 grants, a few minutes
    python bench/million_grants.py --grants 50000     # quicker
    python bench/million_grants.py --data-dir DIR     # keep the database (default: a temp dir)

Issue 10 item 2 / issue 14 finding 1: draft-00 gave an issuer 131 072 grants in its whole
life. This script creates ``--grants`` pending grants and approves each one with the same
functions the grants API and the consent page use (``grants.insert_grant`` and
``grants.apply_transition``, so the same ``status_allocation`` code draws every entry and
every audit event is appended), in transactions of ``--batch`` grants (the API commits one
per request; batching only saves fsyncs). Quotas are not applied: they bound one client,
not the issuer. Grant ``i`` is created at simulated time ``t0 + i * --spacing`` seconds and
lives ``--lifetime`` seconds, so lists whose grants are all over retire on the way
(MCPA-REV-017). ``--revoked`` of the grants are revoked, so the lists are not all zeros.

It prints the number of lists (open, full, retired), each live list's size raw and
compressed, the time, the allocation rate, and the cost of serving a list: the first
``GET`` (signing) and cached ones, measured through ``SignedLists`` as the endpoint does.
Nothing is left running; the temporary directory is removed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

from mcp_auth.reference.issuer import grants
from mcp_auth.reference.issuer.app import open_data_dir
from mcp_auth.reference.issuer.settings import Settings
from mcp_auth.reference.issuer.status_allocation import configure
from mcp_auth.reference.issuer.status_list import SignedLists
from mcp_auth.reference.jose import b64url_decode, parse_compact


def request(n: int, lifetime: int) -> grants.GrantRequest:
    return grants.GrantRequest(
        sub=f"user-{n % 5000}",
        client_id=f"agent-{n % 200}",
        resources=("https://mcp.example/mcp",),
        scopes=("files:read",),
        tools=("files-tool",),
        models=("model-1",),
        max_depth=3,
        max_token_lifetime=300,
        expires_in=lifetime,
        purpose=None,
    )


def run(args: argparse.Namespace, data_dir: Path) -> int:
    settings = Settings(data_dir=data_dir, issuer_url="https://issuer.example")
    data = open_data_dir(settings)
    db = data.db
    configure(db, settings.status_list_size, settings.status_list_retire_margin)
    rng = random.Random(args.seed)
    t0 = 1_800_000_000
    started = time.perf_counter()
    done = 0
    while done < args.grants:
        count = min(args.batch, args.grants - done)
        with db.transaction() as conn:
            for n in range(done, done + count):
                now = t0 + n * args.spacing
                pending = grants.insert_grant(
                    conn, db, request(n, args.lifetime), active=False, now=now
                )
                assert pending.status_list_id is None  # pending: no entry (MCPA-REV-003)
                grant, _ = grants.apply_transition(conn, db, pending.grant_id, "approve", now)
                if grant.status_list_id is None:
                    print("ran out of status list entries", file=sys.stderr)
                    return 1
                if rng.random() < args.revoked:
                    grants.apply_transition(conn, db, grant.grant_id, "revoke", now)
        done += count
        if done % (args.batch * 50) == 0 or done == args.grants:
            rate = done / (time.perf_counter() - started)
            print(f"  {done:>9,} grants  {rate:,.0f}/s", flush=True)
    elapsed = time.perf_counter() - started
    end = t0 + args.grants * args.spacing

    rows = db.query(
        "SELECT list_id, size, allocated, retired_at FROM status_lists ORDER BY created_at"
    )
    live = [r for r in rows if r["retired_at"] is None]
    print(f"\ngrants created and approved: {args.grants:,} in {elapsed:.1f} s")
    print(f"  ({args.grants / elapsed:,.0f} grants/s, each with 2 audit events)")
    print(
        f"status lists: {len(rows)} opened, {sum(r['allocated'] >= r['size'] for r in rows)} "
        f"full, {len(rows) - len(live)} retired, {len(live)} live"
    )
    signed = SignedLists(db, data.keys, settings)
    for row in live:
        first_started = time.perf_counter()
        held = signed.get(row["list_id"], end)
        first = time.perf_counter() - first_started
        assert held is not None
        claims = parse_compact(held.token, max_length=1 << 20).payload
        raw = len(zlib.decompress(b64url_decode(claims["status_list"]["lst"])))
        cached = []
        for _ in range(200):
            t = time.perf_counter()
            signed.get(row["list_id"], end)
            cached.append(time.perf_counter() - t)
        print(
            f"  list {row['list_id']}: {row['allocated']:,}/{row['size']:,} entries, "
            f"{raw:,} bytes raw, {len(claims['status_list']['lst']):,} bytes lst "
            f"(base64url of zlib), token {len(held.token):,} bytes; first GET (sign) "
            f"{first * 1000:.1f} ms, cached GET median "
            f"{statistics.median(cached) * 1e6:.0f} us"
        )
    print(
        f"for {len(live) * 201} GETs: {signed.builds} rebuilds from the grants, "
        f"{signed.signatures} signatures"
    )
    db.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grants", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--spacing", type=int, default=1, help="simulated seconds per grant")
    parser.add_argument("--lifetime", type=int, default=86_400, help="grant lifetime, s")
    parser.add_argument("--revoked", type=float, default=0.01, help="fraction revoked")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args(argv)
    if args.data_dir is not None:
        return run(args, args.data_dir)
    with tempfile.TemporaryDirectory(prefix="mcpa-million-") as tmp:
        return run(args, Path(tmp) / "issuer")


if __name__ == "__main__":
    sys.exit(main())
