"""Issuance policy: its schema, its documents, versioning and approval.

Imports nothing of the project: the issuer reads a validated policy from here.
"""
