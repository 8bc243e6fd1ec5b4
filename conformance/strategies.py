"""Hypothesis strategies: claim sets, agent chains, DPoP proofs and their mutations.

Strategies produce *recipes* (:mod:`mcp_auth.conformance.cases`), never verdicts: the
oracle decides what a conformant verifier answers to the bytes a recipe turns into.
Times are offsets from the moment of sending and are drawn from buckets well inside or
well outside every bound, so no example depends on clock drift.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from mcp_auth.conformance.cases import Case, Op, ProofRecipe, TokenRecipe

ident = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
scope_token = st.sampled_from(["data:read", "data:write", "files:read", "admin", "x:y"])


@st.composite
def chains(draw: st.DrawFn, min_tools: int = 0, max_tools: int = 4) -> tuple[tuple[str, ...], ...]:
    """A well-formed chain, innermost first: the agent with its model, then tools (some with
    a model of their own)."""
    n = draw(st.integers(min_tools, max_tools))
    hops: list[tuple[str, ...]] = [("agent", "agent-" + draw(ident), "model-" + draw(ident))]
    for _ in range(n):
        tool = ("tool", "tool-" + draw(ident))
        hops.append((*tool, "model-" + draw(ident)) if draw(st.booleans()) else tool)
    return tuple(hops)


@st.composite
def malformed_chains(draw: st.DrawFn) -> tuple[tuple[str, ...], ...]:
    """Chains that break the grammar (agent, tool*), including draft-00's model hop."""
    kind = draw(
        st.sampled_from(
            [
                "no-agent",
                "two-agents",
                "tool-first",
                "draft-00-model-hop",
                "model-first",
                "unknown-type",
            ]
        )
    )
    a, m, t = ("agent", "agent-a", "model-m"), ("model", "model-m"), ("tool", "tool-t")
    return {
        "no-agent": (t,),
        "two-agents": (a, a),
        "tool-first": (t, a),
        "draft-00-model-hop": (("agent", "agent-a"), m, t),
        "model-first": (m, a),
        "unknown-type": (a, ("robot", "r2")),
    }[kind]


# Time buckets (seconds from now): far from every bound any conformant verifier may use.
valid_iat = st.integers(-120, -20)
valid_exp = st.integers(60, 180)  # with valid_iat: exp - iat <= 300
expired_exp = st.integers(-3600, -200)
future_time = st.integers(200, 3600)


@st.composite
def valid_tokens(draw: st.DrawFn, required_scope: str) -> TokenRecipe:
    """A token recipe a conformant verifier must accept."""
    extra = draw(st.lists(scope_token, max_size=3, unique=True))
    scopes = list(dict.fromkeys(required_scope.split() + extra))
    scopes = draw(st.permutations(scopes))
    return TokenRecipe(
        alg=draw(st.sampled_from(["ES256", "Ed25519", "EdDSA"])),
        scope=" ".join(scopes),
        chain=draw(chains()),
        status_idx=draw(st.integers(0, 99_999)),
        iat=draw(valid_iat),
        exp=draw(valid_exp),
    )


CLAIMS = (
    "iss",
    "sub",
    "aud",
    "client_id",
    "iat",
    "exp",
    "jti",
    "scope",
    "grant_id",
    "cnf",
    "status",
    "act",
)
WRONG_TYPES: list[Any] = [None, True, 1, 1.5, "1700000000", [], {}, ["x"]]


def header_mutations() -> st.SearchStrategy[tuple[Op, ...]]:
    h = "header"
    return st.one_of(
        st.sampled_from(["JWT", "at+jwt", "dpop+jwt", "mcpa+jwt ", "", "application/jwt"]).map(
            lambda v: (Op("set", h, "typ", v),)
        ),
        st.just((Op("del", h, "typ"),)),
        st.sampled_from(["RS256", "ES384", "ES512", "PS256", "HS256", "Ed25519", "es256"]).map(
            lambda v: (Op("set", h, "alg", v),)
        ),
        st.sampled_from(["jku", "x5u"]).map(lambda n: (Op("set", h, n, "$canary_jwks"),)),
        st.just((Op("set", h, "jwk", "$attacker_jwk"),)),
        st.just((Op("set", h, "x5c", ["MIIB"]),)),
        st.sampled_from([["exp"], ["mcpa-ext"], []]).map(lambda v: (Op("set", h, "crit", v),)),
        st.sampled_from(["unknown-kid", "../../../../dev/null", "' OR '1'='1", "", "*"]).map(
            lambda v: (Op("set", h, "kid", v),)
        ),
        st.just((Op("del", h, "kid"),)),
    )


def claim_mutations() -> st.SearchStrategy[tuple[Op, ...]]:
    c = "claims"
    return st.one_of(
        st.sampled_from(CLAIMS).map(lambda n: (Op("del", c, n),)),
        st.tuples(st.sampled_from(CLAIMS), st.sampled_from(WRONG_TYPES)).map(
            lambda p: (Op("set", c, p[0], p[1]),)
        ),
        st.sampled_from(["https://evil.example", "$issuer_slash"]).map(
            lambda v: (Op("set", c, "iss", v),)
        ),
        st.sampled_from(["https://other.example/mcp", "http://127.0.0.1:1/"]).map(
            lambda v: (Op("set", c, "aud", v),)
        ),
        expired_exp.map(lambda v: (Op("time", c, "exp", v),)),
        future_time.map(lambda v: (Op("time", c, "nbf", v),)),
        st.integers(400, 7200).map(lambda v: (Op("time", c, "exp", v),)),
        st.sampled_from(
            [
                "cnf.jkt",
                "status.mcpa_grant_list.idx",
                "status.mcpa_grant_list.uri",
                "act.sub",
                "act.actor_type",
            ]
        ).map(lambda p: (Op("del", c, p),)),
        st.sampled_from(["nothing:here", "other"]).map(lambda v: (Op("set", c, "scope", v),)),
        st.sampled_from(["$canary_status", "$issuer_status_unavailable"]).map(
            lambda v: (Op("set", c, "status.mcpa_grant_list.uri", v),)
        ),
        st.just((Op("set", c, "client_id", "somebody-else"),)),
    )


signature_mutations = st.one_of(
    st.just("ok"),
    st.integers(0, 511).map(lambda b: f"flip:{b}"),
    st.sampled_from(
        [
            "zero",
            "der",
            "truncate",
            "empty",
            "extra-segment",
            "drop-segment",
            "bad-b64",
            "padding",
            "attacker",
            "wrong-key-type",
            "dup-claim",
        ]
    ),
)


PROOF_DEFECTS = (
    "htu",
    "htm",
    "missing",
    "other-key",
    "stale",
    "future",
    "ath-missing",
    "ath-wrong",
    "typ",
    "alg-none",
    "private-jwk",
    "foreign-sig",
    "no-jti",
)


@st.composite
def proofs(draw: st.DrawFn, defective: bool = False) -> ProofRecipe:
    """A DPoP proof recipe: valid or with one defect (always a defect when ``defective``)."""
    kinds = PROOF_DEFECTS if defective else ("none", *PROOF_DEFECTS)
    defect = draw(st.sampled_from(kinds))
    p = ProofRecipe(iat=draw(st.integers(-30, -1)))
    return {
        "none": p,
        "missing": ProofRecipe(present=False),
        "other-key": ProofRecipe(key="other", iat=p.iat),
        "htm": ProofRecipe(htm=draw(st.sampled_from(["PUT", "DELETE", "get", "PATCH"])), iat=p.iat),
        "htu": ProofRecipe(
            htu=draw(st.sampled_from(["http://127.0.0.1:1/other", "https://evil.example/mcp"])),
            iat=p.iat,
        ),
        "stale": ProofRecipe(iat=draw(st.integers(-3600, -300))),
        "future": ProofRecipe(iat=draw(future_time)),
        "ath-missing": ProofRecipe(ath="missing", iat=p.iat),
        "ath-wrong": ProofRecipe(ath="wrong", iat=p.iat),
        "typ": ProofRecipe(ops=(Op("set", "header", "typ", "jwt"),), iat=p.iat),
        "alg-none": ProofRecipe(
            ops=(Op("set", "header", "alg", "none"),), signature="none", iat=p.iat
        ),
        "private-jwk": ProofRecipe(signature="private-jwk", iat=p.iat),
        "foreign-sig": ProofRecipe(signature="foreign-key", iat=p.iat),
        "no-jti": ProofRecipe(ops=(Op("del", "claims", "jti"),), iat=p.iat),
    }[defect]


AREAS = ("header", "claims", "signature", "chain", "proof", "scheme", "revoked")


@st.composite
def mutated_cases(draw: st.DrawFn, required_scope: str, area: str | None = None) -> Case:
    """A valid token and proof with a defect in ``area`` (header, claims, signature, chain,
    proof, scheme or status; drawn when None) and sometimes a second one elsewhere. Running
    the property once per area spreads the defects over every step of the algorithm
    (Hypothesis favours the first entries of a sampled list)."""
    base = draw(valid_tokens(required_scope))
    first = area if area is not None else draw(st.sampled_from(AREAS))
    areas = [first]
    if draw(st.integers(0, 3)) == 0:
        areas.append(draw(st.sampled_from(AREAS)))
    ops: list[Op] = []
    chain, signature, scheme, status_idx = base.chain, "ok", "DPoP", base.status_idx
    proof = ProofRecipe(iat=draw(st.integers(-30, -1)))
    for where in areas:
        if where == "header":
            ops.extend(draw(header_mutations()))
        elif where == "claims":
            ops.extend(draw(claim_mutations()))
        elif where == "signature":
            signature = draw(signature_mutations.filter(lambda s: s != "ok"))
        elif where == "chain":
            chain = draw(st.one_of(malformed_chains(), chains(min_tools=4, max_tools=6)))
        elif where == "proof":
            proof = draw(proofs(defective=True))
        elif where == "scheme":
            scheme = "Bearer"
        elif where == "revoked":
            status_idx = -1  # the runner picks a pre-revoked index
    token = TokenRecipe(
        alg=base.alg,
        scope=base.scope,
        chain=chain,
        status_idx=status_idx,
        iat=base.iat,
        exp=base.exp,
        ops=tuple(ops),
        signature=signature,
    )
    return Case(token=token, proof=proof, scheme=scheme)
