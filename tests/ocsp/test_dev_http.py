"""``make run``'s OCSP/CRL HTTP side: ``issuer.dev.environment.start_ocsp_http`` on a fresh
development environment, in a child process (it brings its own SoftHSM directory)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, sys, urllib.request
from pathlib import Path
from issuer.dev.environment import prepare, start_ocsp_http
env = prepare(Path(sys.argv[1]), listen="127.0.0.1:0", out=lambda line: None)
lines = []
stop = start_ocsp_http(env, listen="127.0.0.1:0", out=lines.append).stop
base = lines[0].split()[1].rsplit("/", 1)[0]
crl = urllib.request.urlopen(base + "/crl/issuing-ca.crl", timeout=10)
ca = urllib.request.urlopen(base + "/ca/issuing-ca.cer", timeout=10)
print(json.dumps({"line": lines[0], "crl": [crl.status, crl.headers["Content-Type"]],
                  "ca": [ca.status, ca.headers["Content-Type"]], "crl_der": crl.read().hex()}))
stop()
"""


def test_dev_environment_serves_crl_and_ca_certificate(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "dev")],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["line"].startswith("ocsp        http://127.0.0.1:")
    assert report["crl"] == [200, "application/pkix-crl"]
    assert report["ca"] == [200, "application/pkix-cert"]
    der = tmp_path / "dev.crl"
    der.write_bytes(bytes.fromhex(report["crl_der"]))
    ca = tmp_path / "dev" / "ca"
    chain = tmp_path / "chain.pem"
    chain.write_bytes((ca / "root.pem").read_bytes() + (ca / "issuing-ca.pem").read_bytes())
    verified = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(der), "-CAfile", str(chain), "-verify",
         "-noout"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "verify OK" in verified.stderr, verified.stderr
