"""Benchmark of the reference verifier against the crypto floor (run by hand).

    python bench/verifier_bench.py            # micro + HTTP, about a minute
    python bench/verifier_bench.py --quick    # fewer rounds
    python bench/verifier_bench.py --no-http  # micro-benchmarks only

Everything is measured in one run, interleaved (each round times every case once, in a
rotating order), and reported as the median over rounds and the best round, with two
clocks read around every batch: the CPU time of this thread (``time.thread_time``, which
leaves out time spent descheduled on a shared machine) and wall-clock time
(``time.perf_counter``). The reference is ``cryptography``'s ES256 verification of a
signature converted from r||s to DER beforehand ("raw"), so the conversion, the range
check, base64url, JSON and every check are charged to the verifier. It is measured over
token-sized and proof-sized messages, and each case is compared with what it verifies:

* token + DPoP proof, first sight (nothing cached) vs one raw token plus one raw proof
  verification (target <= 1.5x)
* the same token reused with a fresh proof vs one raw proof verification (target <= 1.3x);
  the proof's signature is verified on every request
* chain depth 2 (agent and one tool), 5 (the maximum) and 6
  (refused at step 13): depth 5 within 1.1x of depth 2
* pyjwt 2.x ``jwt.decode`` of the same token (signature + exp/aud only, no DPoP)

and, over HTTP on 127.0.0.1 under uvicorn (one worker process, a keep-alive client
with a fixed number of requests; it stops by itself), requests per second of the same
endpoint protected by the middleware, unprotected, and protected by pyjwt ``decode``.
Key lookup and status are in memory (``KeySet`` / ``StaticStatus``): with the real
providers a status list is fetched at most once a minute, so the per-request cost is
the same.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_auth.reference.dpop import ReplayCache, make_dpop_proof
from mcp_auth.reference.errors import InvalidToken
from mcp_auth.reference.jose import (
    b64url_decode,
    generate_private_key,
    jwk_thumbprint,
    load_jwks,
    private_jwk,
    private_key_from_jwk,
    public_jwk,
    sign_compact,
)
from mcp_auth.reference.verifier import (
    MCPAuthMiddleware,
    StaticStatus,
    Verifier,
    VerifierSettings,
    get_principal,
)
from mcp_auth.reference.verifier.principal import Principal

try:
    import jwt as pyjwt
except ImportError:  # pragma: no cover - pyjwt is a declared dependency
    pyjwt = None

ISSUER = "https://issuer.example"
RESOURCE = "https://rs.example/data"


def chain(depth: int) -> tuple[dict[str, Any], str]:
    act: dict[str, Any] = {"actor_type": "agent", "sub": "agent-1", "mcpa_model": "model-x"}
    holder = "agent-1"
    for i in range(depth - 1):  # one hop per holder: the agent, then tools
        holder = f"tool-{i + 1}"
        act = {"actor_type": "tool", "sub": holder, "act": act}
    return act, holder


class World:
    """Issuer key, holder key, tokens and pre-generated proofs."""

    def __init__(self, resource: str = RESOURCE, issuer_jwk: dict[str, str] | None = None) -> None:
        self.resource = resource
        self.issuer_key = (
            private_key_from_jwk(issuer_jwk) if issuer_jwk else generate_private_key("ES256")
        )
        self.holder_key = generate_private_key("ES256")
        self.holder_jwk = public_jwk(self.holder_key)
        self.jwks = {"keys": [public_jwk(self.issuer_key, "k1", "ES256")]}
        self.keyset = load_jwks(self.jwks)
        self.settings = VerifierSettings(issuer=ISSUER, resource=resource)

    def token(self, depth: int = 2, *, now: int | None = None, jti: str = "t") -> str:
        now = int(time.time()) if now is None else now
        act, holder = chain(depth)
        claims = {
            "iss": ISSUER,
            "sub": "user-1",
            "aud": self.resource,
            "client_id": holder,
            "iat": now,
            "exp": now + 300,
            "jti": f"{jti}-{depth}-{now}-{os.urandom(4).hex()}",
            "scope": "files:read files:write",
            "grant_id": "grant-1",
            "cnf": {"jkt": jwk_thumbprint(self.holder_jwk)},
            "status": {"mcpa_grant_list": {"idx": 7, "uri": f"{ISSUER}/status/1"}},
            "act": act,
        }
        return sign_compact({"typ": "mcpa+jwt", "kid": "k1"}, claims, self.issuer_key, "ES256")

    def proofs(self, token: str, n: int, url: str | None = None, method: str = "GET") -> list[str]:
        now = int(time.time())
        return [
            make_dpop_proof(
                self.holder_key, self.holder_jwk, method, url or self.resource,
                access_token=token, iat=now,
            )
            for _ in range(n)
        ]  # fmt: skip

    def verifier(self, *, token_cache_size: int) -> Verifier:
        return Verifier(
            self.settings,
            keys=self.keyset,
            status=StaticStatus(),
            replay_cache=ReplayCache(1_000_000),
            token_cache_size=token_cache_size,
        )


def run_sync(coro: Any) -> Any:
    """Drive a coroutine that never suspends (injected lookups): no event-loop overhead."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("coroutine suspended")


def time_batch(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    """Per-call (CPU time of this thread, wall-clock time) of ``n`` calls of ``fn``."""
    cpu, wall = time.thread_time, time.perf_counter
    start_cpu, start_wall = cpu(), wall()
    for _ in range(n):
        fn()
    return (cpu() - start_cpu) / n, (wall() - start_wall) / n


def _der_signed(
    texts: list[str], key: ec.EllipticCurvePrivateKey
) -> list[tuple[bytes, bytes, Any]]:
    """(DER signature, signing input, public key) of compact ES256 JWSs, DER made beforehand."""
    out = []
    for text in texts:
        head, _, sig_b64 = text.rpartition(".")
        sig = b64url_decode(sig_b64)
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        out.append((der, head.encode(), key.public_key()))
    return out


Timings = dict[str, dict[str, float]]  # clock ("cpu" / "wall") -> case -> seconds per call


def micro(rounds: int, batch: int) -> tuple[Timings, Timings]:
    world = World()
    token = world.token()
    pub = world.issuer_key.public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    assert isinstance(world.issuer_key, ec.EllipticCurvePrivateKey)
    assert isinstance(world.holder_key, ec.EllipticCurvePrivateKey)
    ecdsa = ec.ECDSA(hashes.SHA256())
    # The floor: cryptography's EllipticCurvePublicKey.verify of distinct signatures that
    # were converted from r||s to DER beforehand, so the conversion (and the range check,
    # base64url, JSON and every check) is charged to the verifier. Two message sizes, so
    # that each case is compared with the messages it verifies: token signing inputs
    # (about 650 bytes here) and DPoP proof signing inputs (about 415 bytes).
    n_raw = rounds * batch // 256 + 1
    raw_token_iter = iter(
        _der_signed([world.token(jti=f"raw{i}") for i in range(256)], world.issuer_key) * n_raw
    )
    raw_proof_iter = iter(_der_signed(world.proofs(token, 256), world.holder_key) * n_raw)

    def raw_token() -> None:
        der, msg, key = next(raw_token_iter)
        key.verify(der, msg, ecdsa)

    def raw_proof() -> None:
        der, msg, key = next(raw_proof_iter)
        key.verify(der, msg, ecdsa)

    total = rounds * batch
    print(f"preparing {total} proofs per case ...", flush=True)

    # first sight: a new verifier without token cache sees every token for the first time
    first_v = world.verifier(token_cache_size=0)
    first_proofs = iter(world.proofs(token, total))

    def first_sight() -> None:
        run_sync(first_v.verify(token, next(first_proofs), method="GET", url=RESOURCE,
                                required_scopes="files:read"))  # fmt: skip

    reuse_v = world.verifier(token_cache_size=1000)
    reuse_proofs = iter(world.proofs(token, total + 1))
    run_sync(reuse_v.verify(token, next(reuse_proofs), method="GET", url=RESOURCE))

    def reused() -> None:
        run_sync(reuse_v.verify(token, next(reuse_proofs), method="GET", url=RESOURCE,
                                required_scopes="files:read"))  # fmt: skip

    depth_cases: dict[str, Callable[[], None]] = {}
    for depth in (2, 5, 6):
        t = world.token(depth)
        v = world.verifier(token_cache_size=0)
        proofs = iter(world.proofs(t, total))

        def case(v: Verifier = v, t: str = t, proofs: Any = proofs, depth: int = depth) -> None:
            try:
                run_sync(v.verify(t, next(proofs), method="GET", url=RESOURCE))
            except InvalidToken:
                assert depth == 6

        depth_cases[f"depth {depth}" + (" (refused)" if depth == 6 else "")] = case

    cases: dict[str, Callable[[], None]] = {
        "raw ES256 verify": raw_token,
        "raw ES256 verify (proof)": raw_proof,
        "token+DPoP first sight": first_sight,
        "token reused, fresh DPoP": reused,
        **depth_cases,
    }
    if pyjwt is not None:
        pyjwt_key = pub

        def pyjwt_decode() -> None:
            pyjwt.decode(token, pyjwt_key, algorithms=["ES256"], audience=RESOURCE,
                         issuer=ISSUER)  # fmt: skip

        cases["pyjwt decode (no DPoP)"] = pyjwt_decode

    samples: dict[str, dict[str, list[float]]] = {
        clock: {name: [] for name in cases} for clock in ("cpu", "wall")
    }
    names = list(cases)
    gc.disable()
    try:
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                cpu, wall = time_batch(cases[name], batch)
                samples["cpu"][name].append(cpu)
                samples["wall"][name].append(wall)
    finally:
        gc.enable()
    medians = {c: {n: statistics.median(v) for n, v in by.items()} for c, by in samples.items()}
    best = {c: {n: min(v) for n, v in by.items()} for c, by in samples.items()}
    return medians, best


# ---------------------------------------------------------------------------
# HTTP


def serve(kind: str, port: int, config_path: str) -> None:
    """Server side of the HTTP benchmark (run in a subprocess)."""
    with open(config_path) as fh:
        config = json.load(fh)
    world = World(resource=f"http://127.0.0.1:{port}/data", issuer_jwk=config["issuer_jwk"])

    async def endpoint(request: Request) -> JSONResponse:
        principal = get_principal(request)
        return JSONResponse({"ok": True, "sub": principal.sub if principal else None})

    app: Any = Starlette(routes=[Route("/data", endpoint)])
    if kind == "mcp-auth":
        verifier = world.verifier(token_cache_size=10_000)
        app = MCPAuthMiddleware(app, verifier, required_scopes="files:read")
    elif kind == "pyjwt":
        inner = app
        pub = world.issuer_key.public_key()

        async def pyjwt_app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                headers = dict(scope["headers"])
                value = headers.get(b"authorization", b"").decode()
                try:
                    claims = pyjwt.decode(value.split(" ", 1)[1], pub, algorithms=["ES256"],
                                          audience=world.resource, issuer=ISSUER)  # fmt: skip
                except Exception:
                    await send({"type": "http.response.start", "status": 401, "headers": []})
                    await send({"type": "http.response.body", "body": b""})
                    return
                scope = {**scope, "mcp_auth.principal": Principal(
                    claims["sub"], claims["grant_id"], claims["client_id"], frozenset(), (),
                    {}, claims, claims["jti"], claims["exp"])}  # fmt: skip
            await inner(scope, receive, send)

        app = pyjwt_app
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _client(port: int, requests: list[bytes], concurrency: int) -> tuple[float, int]:
    """A minimal keep-alive HTTP/1.1 client; returns (seconds, non-200 count)."""
    queue = list(reversed(requests))
    bad = 0

    async def worker() -> None:
        nonlocal bad
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                writer.write(queue.pop())
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                if status != 200:
                    bad += 1
        finally:
            writer.close()
            await writer.wait_closed()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, bad


def http(rounds: int, per_round: int, concurrency: int) -> dict[str, float]:
    issuer = generate_private_key("ES256")
    kinds = ["no auth", "mcp-auth", "pyjwt"] if pyjwt is not None else ["no auth", "mcp-auth"]
    procs: dict[str, tuple[subprocess.Popen[bytes], int, World]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        config_path = os.path.join(tmp, "config.json")
        with open(config_path, "w") as fh:
            json.dump({"issuer_jwk": private_jwk(issuer)}, fh)
        try:
            for kind in kinds:
                port = _free_port()
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--serve",
                        kind,
                        "--port",
                        str(port),
                        "--config",
                        config_path,
                    ]
                )
                world = World(f"http://127.0.0.1:{port}/data", issuer_jwk=private_jwk(issuer))
                procs[kind] = (proc, port, world)
            for kind, (proc, port, _) in procs.items():
                deadline = time.monotonic() + 20
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                        break
                    except OSError:
                        if time.monotonic() > deadline or proc.poll() is not None:
                            raise RuntimeError(f"{kind} server did not start") from None
                        time.sleep(0.1)
            rps: dict[str, list[float]] = {k: [] for k in kinds}
            print(f"HTTP: {rounds} rounds x {per_round} requests x {len(kinds)} servers, "
                  f"{concurrency} connections", flush=True)  # fmt: skip
            for r in range(rounds):
                order = kinds[r % len(kinds) :] + kinds[: r % len(kinds)]
                for kind in order:
                    _, port, world = procs[kind]
                    token = world.token()
                    proofs = world.proofs(token, per_round, url=world.resource)
                    reqs = [
                        (
                            f"GET /data HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                            f"Authorization: DPoP {token}\r\nDPoP: {proof}\r\n\r\n"
                        ).encode()
                        for proof in proofs
                    ]
                    seconds, bad = asyncio.run(_client(port, reqs, concurrency))
                    if bad:
                        raise RuntimeError(f"{kind}: {bad} requests failed")
                    rps[kind].append(per_round / seconds)
        finally:
            for proc, _, _ in procs.values():
                proc.terminate()
            for proc, _, _ in procs.values():
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return {k: statistics.median(v) for k, v in rps.items()}


def report(title: str, medians: dict[str, float], best: dict[str, float]) -> None:
    raw, raw_proof = "raw ES256 verify", "raw ES256 verify (proof)"
    print(f"\n{title}")
    print(f"{'case':30} {'median us':>10} {'vs raw':>7} {'best us':>9} {'vs raw':>7}")
    for name, m in medians.items():
        b = best[name]
        print(f"{name:30} {m * 1e6:10.1f} {m / medians[raw]:6.2f}x "
              f"{b * 1e6:9.1f} {b / best[raw]:6.2f}x")  # fmt: skip
    print("ratios: median of rounds (best round)   target")
    for label, key, divisor, target in (
        ("first sight / (token + proof raw)", "token+DPoP first sight", (raw, raw_proof), 1.5),
        ("reused token / proof raw", "token reused, fresh DPoP", (raw_proof,), 1.3),
    ):
        rm = medians[key] / sum(medians[d] for d in divisor)
        rb = best[key] / sum(best[d] for d in divisor)
        print(f"  {label:36} {rm:6.3f}x ({rb:5.3f}x)  <= {target}x "
              f"{'ok' if rm <= target else 'MISSED'}")  # fmt: skip
    dm = medians["depth 5"] / medians["depth 2"]
    db = best["depth 5"] / best["depth 2"]
    print(f"  {'depth 5 / depth 2':36} {dm:6.3f}x ({db:5.3f}x)  <= 1.1x "
          f"{'ok' if dm <= 1.1 else 'MISSED'}")  # fmt: skip
    if "pyjwt decode (no DPoP)" in medians:
        pm = medians["pyjwt decode (no DPoP)"] / medians[raw]
        pb = best["pyjwt decode (no DPoP)"] / best[raw]
        print(f"  {'pyjwt decode / 1 raw verification':36} {pm:6.3f}x ({pb:5.3f}x)  reference")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.config)
        return 0

    rounds, batch = (30, 50) if args.quick else (60, 100)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}; micro: {rounds} rounds x {batch} calls per case, "
          "interleaved")  # fmt: skip
    medians, best = micro(rounds, batch)
    print(f"load average after the micro-benchmarks: {os.getloadavg()[0]:.2f}")
    for clock, title in (
        ("cpu", "CPU time of the benchmark thread (time.thread_time)"),
        ("wall", "wall-clock time (time.perf_counter)"),
    ):
        report(title, medians[clock], best[clock])
    if not args.no_http:
        rps = http(3 if args.quick else 5, 1000 if args.quick else 2000, 8)
        print(f"\n{'HTTP endpoint':34} {'req/s':>9} {'vs no auth':>10}")
        for name, value in rps.items():
            print(f"{name:34} {value:9.0f} {value / rps['no auth']:9.2f}x")
        if "pyjwt" in rps:
            print(f"  mcp-auth (token + DPoP) / pyjwt decode (token only): "
                  f"{rps['mcp-auth'] / rps['pyjwt']:.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
