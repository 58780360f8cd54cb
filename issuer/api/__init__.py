"""Generated gRPC/protobuf modules of the ``zorgid.v1`` API.

Everything under ``issuer/api/zorgid/`` is produced by ``scripts/gen_proto.py``
from ``proto/`` and checked for drift by ``scripts/gen_proto.py --check``; do
not edit it by hand. gRPC types stop at the servicers in ``issuer.server``.
"""
