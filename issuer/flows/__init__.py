"""The portal manual's flows (ARCHITECTURE §2, issue 5) as plain-Python domain functions.

No grpc here: the servicers in ``issuer/server/*_service.py`` translate.
"""
