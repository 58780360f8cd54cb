"""The issuance cycle (ARCHITECTURE §5, docs/issuance-cycle.md).

Import from the submodules (``issuer.issuance.cycle``, ``.certificates``,
``.faults``): this package's ``__init__`` stays empty because
``issuer.errors`` imports :mod:`issuer.issuance.errors` at start-up, and the
cycle itself imports ``issuer.errors``.
"""
