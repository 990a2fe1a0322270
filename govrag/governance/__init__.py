"""Governance use cases: stewardship, auditing, policy administration and what-if, privacy requests, and
the governance log they write."""

from govrag.governance.auditing import Auditing
from govrag.governance.jobs import GovernanceJobObserver
from govrag.governance.log import GovernanceLog
from govrag.governance.policy_admin import PolicyAdministration
from govrag.governance.policy_whatif import PolicyWhatIf
from govrag.governance.privacy import Privacy
from govrag.governance.stewardship import Stewardship

__all__ = [
    "Auditing",
    "GovernanceJobObserver",
    "GovernanceLog",
    "PolicyAdministration",
    "PolicyWhatIf",
    "Privacy",
    "Stewardship",
]
