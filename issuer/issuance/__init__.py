"""The issuance cycle (ARCHITECTURE §5, docs/issuance-cycle.md).

Import from the submodules (``issuer.issuance.cycle``, ``.certificates``,
``.faults``).
"""
