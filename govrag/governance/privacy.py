"""Privacy requests behind the policy: erase an end user's personal values from the provenance log; find
the documents whose text names a person, so that their owners can remove them at the source."""

from __future__ import annotations

from retrieval.audit import AuditStore, ErasureReport
from retrieval.catalog import Catalog
from retrieval.domain import Principal
from retrieval.errors import InvalidRequest
from retrieval.policy import PolicyEngine
from retrieval.subjects import SubjectDocument, SubjectIndex


class Privacy:
    """Erasure (admin, by default policy) and lookup (admin, steward) requests."""

    def __init__(
        self, audit: AuditStore, policy: PolicyEngine, subjects: SubjectIndex, catalog: Catalog
    ) -> None:
        self._audit = audit
        self._policy = policy
        self._subjects = subjects
        self._catalog = catalog

    def erase(self, principal: Principal, end_user_id: str) -> ErasureReport:
        """Delete the personal values kept for `end_user_id`'s events; the chain and everyone else's events
        stay as they are. An id the log never saw erases nothing (counts of 0): that is not an error."""
        self._policy.require(principal, "erase_personal")
        if not end_user_id:
            raise InvalidRequest("end_user_id is empty")
        return self._audit.erase(end_user_id, principal.id)

    def lookup(self, principal: Principal, name: str | None, email: str | None) -> list[SubjectDocument]:
        """The documents whose extracted text (before masking) names the person or the address, in the
        corpora the caller may read (`read_corpus`). Nothing is logged: the log would then hold the name the
        request was made to find."""
        self._policy.require(principal, "lookup_personal")
        if not (name and name.strip()) and not (email and email.strip()):
            raise InvalidRequest("give a name or an e-mail address (or both)")
        found = self._subjects.lookup(name=name, email=email)
        corpora = {ref.id: ref for ref in self._catalog.refs()}
        return [
            document
            for document in found
            if document.corpus_id in corpora
            and self._policy.is_allowed(principal, "read_corpus", corpora[document.corpus_id])
        ]
