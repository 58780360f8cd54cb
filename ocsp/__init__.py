"""OCSP responses and CRLs for the engine's certificates.

Asks for certificate status through an interface of its own that the issuer
implements; never imports the issuer.
"""
