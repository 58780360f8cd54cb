"""The key ceremony: the CA hierarchy on the token and its certificates in ``<data_dir>/ca``.

Public API::

    from issuer.ca import (load_ceremony_config, run_ceremony, import_issuing_ca, renew_ocsp,
                           load_ca_material, default_dev_ceremony, CaMaterial, CeremonyConfig)
    from issuer.wiring import open_ceremony_hsm      # the composition root opens the HSM
    config = load_ceremony_config("docs/ceremony.example.toml")
    hsm = open_ceremony_hsm(config)               # hsm.Hsm for config.hsm
    result = run_ceremony(config, hsm, out=print)
    material = load_ca_material(config.data_dir)  # root, issuing CA, OCSP cert, key labels
    renew_ocsp(config, hsm, new_key=False)
    rollover_issuing_ca(config, hsm)              # a new issuing CA; the old one answers on
"""

from issuer.ca.ceremony import (
    DEFAULT_RENEW_BEFORE,
    CeremonyResult,
    CeremonyToken,
    RenewResult,
    RolloverRefused,
    RolloverResult,
    import_issuing_ca,
    renew_ocsp,
    renew_ocsp_if_due,
    rollover_issuing_ca,
    run_ceremony,
    sign_linted,
)
from issuer.ca.config import (
    AuditConfig,
    CeremonyConfig,
    HsmSettings,
    IssuingCaConfig,
    OcspResponderConfig,
    RootConfig,
    RootMode,
    SubjectName,
    load_ceremony_config,
    parse_ceremony,
)
from issuer.ca.dev import default_dev_ceremony
from issuer.ca.errors import (
    AlreadyExists,
    CaMaterialError,
    CeremonyConfigError,
    CeremonyError,
    CeremonyFailed,
    ImportRefused,
    KeyMismatch,
    LintFailed,
)
from issuer.ca.material import CaMaterial, load_ca_material

__all__ = [
    "DEFAULT_RENEW_BEFORE",
    "AlreadyExists",
    "AuditConfig",
    "CaMaterial",
    "CaMaterialError",
    "CeremonyConfig",
    "CeremonyConfigError",
    "CeremonyError",
    "CeremonyFailed",
    "CeremonyResult",
    "CeremonyToken",
    "HsmSettings",
    "ImportRefused",
    "IssuingCaConfig",
    "KeyMismatch",
    "LintFailed",
    "OcspResponderConfig",
    "RenewResult",
    "RolloverRefused",
    "RolloverResult",
    "RootConfig",
    "RootMode",
    "SubjectName",
    "default_dev_ceremony",
    "import_issuing_ca",
    "load_ca_material",
    "load_ceremony_config",
    "parse_ceremony",
    "renew_ocsp",
    "renew_ocsp_if_due",
    "rollover_issuing_ca",
    "run_ceremony",
    "sign_linted",
]
