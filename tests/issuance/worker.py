"""A separate engine process for the multi-process and crash tests.

Run as ``python -m tests.issuance.worker JOB.json``: opens the CA token (its
own login: one per process), the database, and redeems each ``(token, csr)``
of the job with ``threads`` threads, printing one JSON line per result. With
``ZORGID_TEST_CRASH_AT`` set it SIGKILLs itself at that step of the cycle.
"""

from __future__ import annotations

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from hsm import Hsm
from issuer.audit import AuditLog
from issuer.ca import load_ca_material
from issuer.enrolment.redeem import Redeemer
from issuer.errors import ZorgIdError
from issuer.issuance.cycle import IssuanceCycle
from issuer.issuance.policy_record import record_active_policy
from issuer.issuance.records import Actor
from issuer.store import create_engine_for

ACTOR = Actor(role="mobile", identity="worker")


def main(job_path: str) -> int:
    job: dict[str, Any] = json.loads(Path(job_path).read_text())
    material = load_ca_material(job["data_dir"])
    hsm = Hsm.open(job["token_uri"])
    engine = create_engine_for(job["url"], pg_schema=job.get("pg_schema"))
    audit = AuditLog(signer=hsm.get_ec_key(material.audit_key_label), checkpoint_every=50)
    active = record_active_policy(
        engine, audit_key=hsm.get_ec_key(material.audit_key_label), material=material
    )
    cycle = IssuanceCycle(
        engine=engine,
        policy=active.policy,
        policy_version=active.version,
        ca_cert=material.issuing_ca,
        ca_key=hsm.get_key(material.issuing_ca_key_label),
        audit=audit,
    )
    redeemer = Redeemer(
        cycle,
        lease=timedelta(seconds=job.get("lease_seconds", 30.0)),
        wait_seconds=job.get("wait_seconds", 20.0),
    )
    start = threading.Barrier(job.get("threads", 1))
    out = threading.Lock()

    def run(item: dict[str, str]) -> None:
        if len(job["items"]) == job.get("threads", 1) > 1:
            start.wait()
        try:
            got = redeemer.redeem(item["token"], bytes.fromhex(item["csr"]), actor=ACTOR)
            line = {
                "ok": True,
                "id": got.certificate.id,
                "serial": got.certificate.serial,
                "replayed": got.replayed,
            }
        except ZorgIdError as exc:
            line = {"ok": False, "code": exc.code}
        with out:
            print(json.dumps(line), flush=True)

    with ThreadPoolExecutor(max_workers=job.get("threads", 1)) as pool:
        list(pool.map(run, job["items"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
