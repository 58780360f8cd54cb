"""The reference portal: the portal manual's screens in a browser.

A gRPC client of the engine with the ``portal`` role that imports only the generated
stubs, so it proves the public API is enough to build a portal on.
"""
