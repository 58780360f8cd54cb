"""The key ceremony: make the CA hierarchy on the token and write its certificates.

The entry points, each all-or-nothing:

* :func:`run_ceremony` -- self-signed root: root, issuing CA, OCSP responder
  and audit keys and certificates in one run. External root: the issuing CA
  key and a CSR, then it stops.
* :func:`import_issuing_ca` -- external root, second step: the certificate
  the external root signed is checked against the token key and the profile,
  then the OCSP responder and audit keys are made as in one run.
* :func:`renew_ocsp` -- a new short-lived responder certificate, with the
  same key or a new one; the old certificate is kept beside it.
* :func:`~issuer.ca.ceremony.arl.renew_arl` -- the next CRL of a self-signed root
  (the first one is made by :func:`run_ceremony`).
* :func:`rollover_issuing_ca` -- a new issuing CA (and responder) for new certificates; the
  old issuing CA keeps answering for its own until they expire.

*All-or-nothing* is kept by a journal: each key generated and each file
written or replaced in this run is recorded the moment it exists, and any
failure (an exception, Ctrl-C) undoes the journal in reverse, so the token
and the data directory are as before. Before anything is made, every key
label and every file is checked to be absent: nothing is ever overwritten.

Each certificate is built once, signed with a throwaway software key of the
same type and linted with pkilint; only then does the HSM sign, and the
to-be-signed bytes of the real certificate are compared with the linted ones
(Boulder's precertificate lint). Then the signature is verified with the
issuer's public key and the certificate's public key is compared with the
token key it certifies.

Layout: :mod:`~issuer.ca.ceremony.rollback` (the journal and the changes it can undo),
:mod:`~issuer.ca.ceremony.hierarchy` (certificates built, linted, signed, recorded),
:mod:`~issuer.ca.ceremony.run`, :mod:`~issuer.ca.ceremony.external` (the import),
:mod:`~issuer.ca.ceremony.renew`, :mod:`~issuer.ca.ceremony.arl` (the root's CRL) and
:mod:`~issuer.ca.ceremony.rollover`, one entry point each; :mod:`~issuer.ca.ceremony.lock`,
the lock every change of ``ceremony.json`` after the ceremony holds.
"""

from issuer.ca.ceremony.external import import_issuing_ca, read_pem_file
from issuer.ca.ceremony.hierarchy import sign_linted
from issuer.ca.ceremony.renew import (
    DEFAULT_RENEW_BEFORE,
    RenewResult,
    renew_ocsp,
    renew_ocsp_if_due,
)
from issuer.ca.ceremony.rollback import CeremonyToken
from issuer.ca.ceremony.rollover import (
    RolloverRefused,
    RolloverResult,
    rollover_issuing_ca,
)
from issuer.ca.ceremony.run import CeremonyResult, run_ceremony
from issuer.ca.material import read_certificate

__all__ = [
    "DEFAULT_RENEW_BEFORE",
    "CeremonyResult",
    "CeremonyToken",
    "RenewResult",
    "RolloverRefused",
    "RolloverResult",
    "import_issuing_ca",
    "read_certificate",
    "read_pem_file",
    "renew_ocsp",
    "renew_ocsp_if_due",
    "rollover_issuing_ca",
    "run_ceremony",
    "sign_linted",
]
