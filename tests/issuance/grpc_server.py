"""A real engine server process for the multi-process gRPC test (spawned by multiprocessing).

Builds the server exactly as ``zorgid serve`` does for the issuance services
(config file, mTLS, role table, IssuanceRuntime opening the HSM on first use),
listening with SO_REUSEPORT so several processes share one port.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def serve(config_path: str, ready: Any, stop: Any) -> None:
    from issuer.config import load_config
    from issuer.server.app import build_server
    from issuer.server.binding import issuance_service_bindings
    from issuer.server.health import HealthControl
    from issuer.wiring import issuance_runtime

    config = load_config(Path(config_path))
    health = HealthControl()
    built = build_server(
        config,
        issuance_service_bindings(issuance_runtime(config, health=health)),
        health=health,
        reuse_port=True,
    )
    built.start()
    ready.put(os.getpid())
    stop.wait()
    built.stop(0)
