"""Privacy commands (`govrag privacy …`): erase an end user's personal values from the provenance log
(admin), find the documents that name a person (admin, steward); through the service's API with the typed
client."""

from __future__ import annotations

from typing import Annotated

import typer

from govrag.cli._shared import DEFAULT_URL, KeyOption, UrlOption, fail, print_json, service

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


@privacy_app.command("lookup")
def privacy_lookup(
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = "",
    name: Annotated[str | None, typer.Option(help="A person's full name.")] = None,
    email: Annotated[str | None, typer.Option(help="An e-mail address.")] = None,
) -> None:
    """List the documents whose extracted text (before masking) names the person or the address, so that
    their owners can remove them at the source (admin, steward). Exact match after normalization."""
    if name is None and email is None:
        raise fail("error: give --name or --email (or both)", 2)
    with service(url, api_key) as govrag:
        print_json(govrag.lookup_subject(name=name, email=email).raw)
