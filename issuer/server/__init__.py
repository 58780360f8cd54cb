"""The gRPC server: mTLS, the role interceptor, health, servicers and their bindings.

What the services run on is built by the composition root, :mod:`issuer.wiring`.
Import from the submodules (``issuer.server.app.build_server``,
``issuer.server.roles``, ``issuer.server.health``); this package's
``__init__`` stays empty so that importing the role table costs no grpc import.
"""
