"""govrag-client: call a govrag service from a chat app, a steward's script or an auditor's notebook."""

from govrag_client._client import *  # noqa: F403
from govrag_client._client import __all__ as __all__
