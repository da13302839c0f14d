"""One gateway everywhere (issue 16): the local, compose and Kubernetes nginx configs come from
deploy/gateway/nginx.conf.template and agree on every location, limit zone, header and guard;
only the parameters (paths, addresses, trusted proxies, TLS, limits) differ. Parsed, not
compared as text, so a difference anywhere in the structure fails with its place."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import pytest

from deploy.gateway.render import (
    Bucket,
    GatewayConfigError,
    Limits,
    compose_target,
    k8s_target,
    limits_from_env,
    render,
    stale_files,
)
from deploy.local.gateway import local_target


@dataclass(frozen=True)
class Directive:
    name: str
    args: tuple[str, ...]
    block: tuple[Directive, ...] | None = None


def parse(text: str) -> tuple[Directive, ...]:
    """nginx's syntax as far as our config uses it: words, quoted strings, blocks, comments."""
    tokens = re.findall(r"#[^\n]*|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|[{};]|[^\s{};]+", text)
    tokens = [t for t in tokens if not t.startswith("#")]
    position = 0

    def block() -> tuple[Directive, ...]:
        nonlocal position
        out: list[Directive] = []
        words: list[str] = []
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token == ";":
                out.append(Directive(words[0], tuple(words[1:])))
                words = []
            elif token == "{":
                out.append(Directive(words[0], tuple(words[1:]), block()))
                words = []
            elif token == "}":
                assert not words, words
                return tuple(out)
            else:
                words.append(token)
        assert not words, words
        return tuple(out)

    return block()


# The local target with `make up`'s defaults (two API processes).
TARGETS = {"local": local_target({}), "compose": compose_target(), "k8s": k8s_target()}
CONFIGS = {name: parse(render(target)) for name, target in TARGETS.items()}

# What may differ between the three, and only in its arguments.
PARAMETER_DIRECTIVES = {
    "pid", "error_log", "access_log", "listen", "root", "proxy_cache_path", "client_body_temp_path",
    "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path",
}  # fmt: skip
# Blocks whose entries are parameters: the API processes, the load generators' networks.
PARAMETER_BLOCKS = {"geo", "upstream"}
# Present only where there is a proxy in front (Kubernetes) or TLS ends in front.
PROXY_DIRECTIVES = {"set_real_ip_from", "real_ip_header", "real_ip_recursive"}


def normalized(block: tuple[Directive, ...]) -> tuple[Directive, ...]:
    out: list[Directive] = []
    for d in block:
        if d.name in PROXY_DIRECTIVES:
            continue
        if d.name == "add_header" and d.args[0] == "Strict-Transport-Security":
            continue
        args = d.args
        if d.name in PARAMETER_DIRECTIVES:
            args = ("<parameter>",)
        elif d.name in {"limit_req_zone"}:
            args = tuple(re.sub(r"rate=\S+", "rate=<parameter>", a) for a in args)
        elif d.name in {"limit_req"}:
            args = tuple(re.sub(r"burst=\d+", "burst=<parameter>", a) for a in args)
        elif d.name == "limit_conn" or (
            d.name == "proxy_set_header" and args[0] == "X-Forwarded-Proto"
        ):
            args = (args[0], "<parameter>")
        children = d.block
        if children is not None and d.name in PARAMETER_BLOCKS:
            children = tuple(
                c
                for c in children
                if c.name in {"default", "least_conn", "keepalive", "keepalive_timeout"}
            )
        elif children is not None and d.name == "map" and d.args[-1] == "$too_many_retry_after":
            children = tuple(Directive(c.name, ("<parameter>",)) for c in children)
        elif children is not None:
            children = normalized(children)
        out.append(Directive(d.name, args, children))
    return tuple(out)


def find(block: tuple[Directive, ...], name: str) -> list[Directive]:
    return [d for d in block if d.name == name]


def http_of(config: tuple[Directive, ...]) -> tuple[Directive, ...]:
    (http,) = find(config, "http")
    assert http.block is not None
    return http.block


def server_of(config: tuple[Directive, ...]) -> tuple[Directive, ...]:
    (server,) = find(http_of(config), "server")
    assert server.block is not None
    return server.block


def locations(
    block: tuple[Directive, ...], inherited: dict[str, str], prefix: str = ""
) -> dict[str, dict[str, str]]:
    """Each location's effective headers: add_header is inherited only by a block with none."""
    out: dict[str, dict[str, str]] = {}
    for d in block:
        if d.name != "location" or d.block is None:
            continue
        own = {h.args[0]: h.args[1] for h in find(d.block, "add_header")}
        headers = own or inherited
        where = prefix + " ".join(d.args)
        out[where] = headers
        out |= locations(d.block, headers, where + " > ")
    return out


def headers_by_location(config: tuple[Directive, ...]) -> dict[str, dict[str, str]]:
    server = server_of(config)
    top = {h.args[0]: h.args[1] for h in find(server, "add_header")}
    return {"(server)": top} | locations(server, top)


def test_the_committed_compose_and_kubernetes_configs_are_rendered_from_the_template() -> None:
    assert stale_files() == [], "run: .venv/bin/python -m deploy.gateway write"


@pytest.mark.parametrize("other", ["compose", "k8s"])
def test_the_three_gateways_differ_only_in_their_parameters(other: str) -> None:
    local, them = normalized(CONFIGS["local"]), normalized(CONFIGS[other])
    if local != them:
        # Name the first place they part, not two screens of dataclasses.
        for a, b in zip(server_of(local), server_of(them), strict=False):
            assert a == b
        for a, b in zip(http_of(local), http_of(them), strict=False):
            assert a == b
    assert local == them


def test_every_gateway_has_the_same_locations_zones_and_guards() -> None:
    for name, config in CONFIGS.items():
        http = http_of(config)
        zones = {re.sub(r"zone=(\w+).*", r"\1", d.args[1]) for d in find(http, "limit_req_zone")}
        assert zones == {"perip", "page", "intake", "officer", "posko_ip"}, name
        where = set(headers_by_location(config))
        assert {
            "/api/",
            "/api/v1/admin/",
            "/api/v1/assisted/",
            "= /api/v1/contact/verify",
            "= /api/v1/intake",
            "/",
            "/posko/",
            "@too_many",
        } <= where, name
        # The mail-scanner guard: a browser opening the email link gets the page, whose script
        # confirms; nothing that merely fetches the link confirms anything.
        verify = next(
            d
            for d in server_of(config)
            if d.name == "location" and d.args[-1] == "/api/v1/contact/verify"
        )
        assert verify.block is not None
        (guard,) = find(verify.block, "if")
        assert guard.args == ("($http_accept", "~*", '"text/html"', ")"), name
        assert guard.block is not None and guard.block[0].args == ("^", "/index.html", "last")
        # The intake ceiling applies to sign-ups on the API lane.
        api = next(d for d in server_of(config) if d.name == "location" and d.args == ("/api/",))
        assert api.block is not None
        assert find(api.block, "limit_req")[0].args[0] == "zone=intake", name


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_answer_carries_the_security_headers(name: str) -> None:
    tls = TARGETS[name].tls
    for where, headers in headers_by_location(CONFIGS[name]).items():
        if where == "= /nginx_status":
            continue
        assert headers.get("X-Content-Type-Options") == '"nosniff"', (name, where)
        assert headers.get("Referrer-Policy") == '"no-referrer"', (name, where)
        # Scripts, styles and data are governed by the policy of the document that loads them.
        subresources = where == "/ > ~ \\.(?:js|css|json)$"
        csp = headers.get("Content-Security-Policy", "")
        assert subresources or "frame-ancestors 'none'" in csp, (name, where)
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, (name, where)
        # HSTS where TLS ends at or in front of the gateway (the Kubernetes ingress), never
        # on plain HTTP (a browser would ignore it, and a local test address must not get it).
        assert ("Strict-Transport-Security" in headers) == tls, (name, where)
    page = headers_by_location(CONFIGS[name])["/"]["Content-Security-Policy"]
    assert "script-src 'self'" in page and "connect-src 'self'" in page


def test_only_a_gateway_behind_a_proxy_believes_forwarded_addresses() -> None:
    for name in ("local", "compose"):
        assert not any(d.name in PROXY_DIRECTIVES for d in http_of(CONFIGS[name])), name
    http = http_of(CONFIGS["k8s"])
    trusted = [d.args[0] for d in find(http, "set_real_ip_from")]
    assert trusted == list(TARGETS["k8s"].trusted_proxies) and trusted
    # The right-most address not a trusted proxy: what a client writes further left is ignored.
    assert find(http, "real_ip_header")[0].args == ("X-Forwarded-For",)
    assert find(http, "real_ip_recursive")[0].args == ("on",)


def test_a_refused_sign_up_is_told_when_the_ceiling_has_room_again() -> None:
    assert Bucket("600r/s", 300).retry_after_s == 1
    assert Bucket("100r/s", 300).retry_after_s == 3
    assert Bucket("600r/m", 40).retry_after_s == 4
    for name, target in TARGETS.items():
        (retry,) = [
            d
            for d in http_of(CONFIGS[name])
            if d.name == "map" and d.args[-1] == "$too_many_retry_after"
        ]
        assert retry.block is not None
        values = {d.name: d.args[0] for d in retry.block}
        limits = target.limits
        assert values['"signup"'] == str(limits.intake.retry_after_s)
        assert values["default"] == str(limits.per_client.retry_after_s)


def test_the_limits_come_from_the_environment_and_bad_ones_are_refused() -> None:
    limits = limits_from_env(
        {"GELOMBANG_GATEWAY_INTAKE_RATE": "450", "GELOMBANG_GATEWAY_UNLIMITED_CIDRS": ""}
    )
    assert limits == replace(Limits(), intake=Bucket("450r/s", Limits().intake.burst))
    conf = render(replace(local_target({}), limits=limits))
    assert "zone=intake:1m rate=450r/s;" in conf
    for key, value in (
        ("GELOMBANG_GATEWAY_RATE", "fast"),
        ("GELOMBANG_GATEWAY_BURST", "0"),
        ("GELOMBANG_GATEWAY_UNLIMITED_CIDRS", "10.0.0.300/8"),
    ):
        with pytest.raises(GatewayConfigError, match=key):
            limits_from_env({key: value})
