"""The SoftHSM2 token directory helpers, shared with ``make run``."""

from issuer.dev.softhsm import SOFTHSM_MODULE, SoftHsmDir, SoftHsmToken

__all__ = ["SOFTHSM_MODULE", "SoftHsmDir", "SoftHsmToken"]
