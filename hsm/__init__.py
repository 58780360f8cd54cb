"""The engine's only door to PKCS#11.

Everything that touches a token -- loading the module, logging in, finding,
generating and using keys -- lives here, so that the rules that bite (one
login per process, one lock per loaded module, re-initialisation after a
device error) are kept in one place. This package knows nothing of X.509
and imports nothing of the project.
"""
