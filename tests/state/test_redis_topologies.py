"""The Redis URLs of docs/deployment.md against real servers: TLS (`rediss://` with a CA of the
test's own), Redis Cluster (`redis+cluster://`, one node holding every slot) and Sentinel
(`redis+sentinel://`, a Sentinel naming the primary)."""

from __future__ import annotations

import datetime
import ipaddress
import time
from pathlib import Path

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.state.helpers import BOB, open_project, project
from tests.state.redis_server import RedisServer, free_port
from toolwall import Action, ReasonKind

MAIL = {"tool": "email.send", "args": {}}


def exercise(url: str, folder: Path) -> None:
    """Decisions, the count() limit, taint and an approval's single use over `url`."""
    firewall = open_project(project(folder, "redis", url, timeout_s=2))
    actions = [firewall.decide(MAIL, BOB, session="s").action for _ in range(6)]
    assert actions == [Action.ALLOW] * 5 + [Action.BLOCK]
    firewall.record_result({"tool": "web.fetch", "args": {}}, "<page>", session="s", caller=BOB)
    held = firewall.decide({"tool": "bank.transfer", "args": {}, "id": "c1"}, BOB, session="s")
    assert held.action is Action.ESCALATE
    request = firewall.settlement.open(held)
    assert request.approval_id is not None
    firewall.state.approvals.answer(request.approval_id, True, by="carol")
    assert firewall.settlement.conclude(request, held).action is Action.ALLOW
    assert firewall.settlement.conclude(request, held).action is Action.BLOCK
    ok, detail = firewall.state.health()
    assert ok, detail


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate for 127.0.0.1 it signed: (ca.pem, server.pem, server.key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "toolwall test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def test_tls_through_a_rediss_url(tmp_path: Path) -> None:
    ca, cert, key = _certificates(tmp_path / "tls")
    tls_port = free_port()
    server = RedisServer(
        tmp_path / "redis",
        "--tls-port", str(tls_port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
        "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no",
    ).start()  # fmt: skip
    try:
        exercise(f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={ca}", tmp_path / "ok")
        # A server whose certificate the client cannot verify is refused: the call blocks.
        untrusted = open_project(
            project(tmp_path / "untrusted", "redis", f"rediss://127.0.0.1:{tls_port}/0")
        )
        decision = untrusted.decide(MAIL, BOB, session="s")
        assert decision.action is Action.BLOCK and decision.reasons[-1].kind is ReasonKind.STATE
    finally:
        server.stop()


def test_redis_cluster_through_a_cluster_url(tmp_path: Path) -> None:
    node = RedisServer(
        tmp_path / "node", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"
    ).start()
    try:
        admin = redis.Redis(port=node.port)
        admin.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        deadline = time.monotonic() + 10
        while admin.execute_command("CLUSTER", "INFO").decode().find("cluster_state:ok") < 0:
            assert time.monotonic() < deadline, "the one-node cluster did not come up"
            time.sleep(0.05)
        exercise(f"redis+cluster://127.0.0.1:{node.port}", tmp_path / "app")
    finally:
        node.stop()


def test_the_primary_found_through_sentinel(tmp_path: Path) -> None:
    primary = RedisServer(tmp_path / "primary", "--requirepass", "s3cret").start()
    sentinel_dir = tmp_path / "sentinel"
    sentinel_dir.mkdir()
    conf = sentinel_dir / "sentinel.conf"
    conf.write_text(
        f"sentinel monitor main 127.0.0.1 {primary.port} 1\n"
        "sentinel auth-pass main s3cret\n"
        "sentinel down-after-milliseconds main 5000\n"
    )
    sentinel = RedisServer(sentinel_dir, "--sentinel", config=conf).start()
    try:
        url = f"redis+sentinel://:s3cret@127.0.0.1:{sentinel.port}/main/0"
        exercise(url, tmp_path / "app")
    finally:
        sentinel.stop()
        primary.stop()
