"""Privacy commands (`govrag privacy …`): erase an end user's personal values from the provenance log
(admin), through the service's API with the typed client."""

from __future__ import annotations

from typing import Annotated

import typer

from govrag.cli._shared import DEFAULT_URL, KeyOption, UrlOption, print_json, service

privacy_app = typer.Typer(
    help="Privacy requests: erasure from the provenance log (admin).", no_args_is_help=True
)


@privacy_app.command("erase")
def privacy_erase(
    end_user_id: Annotated[str, typer.Argument(help="The end user's id, as their tokens carry it (sub).")],
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = "",
) -> None:
    """Delete an end user's personal values (id, masked queries and answers, quotes, groups) from every event
    logged since values were kept apart from the chain. The log still verifies; the erasure is logged with
    its counts, not the id. Events logged before keep their values (counted as legacy_events)."""
    with service(url, api_key) as govrag:
        print_json(govrag.erase_end_user(end_user_id).raw)
