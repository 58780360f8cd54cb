"""The gRPC server: composition root, mTLS, the role interceptor, health and servicers.

Import from the submodules (``issuer.server.app.build_server``,
``issuer.server.roles``, ``issuer.server.health``); this package's
``__init__`` stays empty so that importing the role table costs no grpc import.
"""
