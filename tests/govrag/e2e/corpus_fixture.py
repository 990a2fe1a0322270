"""Two small corpora with planted personal data, and principals to read them, for end-to-end tests."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import yaml

from retrieval.identity import hash_api_key

# Values that must never come back from /retrieve: names, e-mail addresses and phone numbers.
PLANTED_PII = [
    "Hannah Schmidt",
    "hannah.schmidt@example.eu",
    "Pierre Dubois",
    "pierre.dubois@example.eu",
    "Robert Miller",
    "robert.miller@example.com",
    "(212) 555-0199",
    "Linda Garcia",
    "linda.garcia@example.com",
]

KEYS = {
    "reader_eu": "key-reader-eu-internal",
    "reader_us": "key-reader-us-confidential",
    "reader_none": "key-reader-no-region",
    "steward": "key-steward",
    "auditor": "key-auditor",
}


def write_sources(root: Path) -> dict[str, Path]:
    """Three corpora under `root`; returns name → directory."""
    eu = root / "eu-internal"
    us = root / "us-confidential"
    pending = root / "eu-pending"
    for directory in (eu, us, pending):
        directory.mkdir(parents=True)

    (eu / "leave-policy.md").write_text(
        "# Parental leave\n\n"
        "Parental leave in the EU offices lasts sixteen weeks at full pay. Requests go to the HR partner "
        "Hannah Schmidt (hannah.schmidt@example.eu) at least eight weeks before the expected start.\n\n"
        "## Returning to work\n\n"
        "After parental leave, employees may work part time for up to one year.\n"
    )
    (eu / "canteen.txt").write_text(
        "Canteen opening hours\n\n"
        "The Berlin canteen serves lunch from 11:30 to 14:00. Vegetarian dishes are available every day. "
        "Feedback about the menu goes to Pierre Dubois, pierre.dubois@example.eu.\n"
    )
    (us / "vendor-contract.html").write_text(
        "<html><head><title>Vendor contract</title></head><body>"
        "<h1>Vendor contract terms</h1>"
        "<p>The vendor contract with Acme Freight has a termination notice period of ninety days and caps "
        "liability at twelve months of fees. The account manager is Robert Miller, "
        "robert.miller@example.com, (212) 555-0199.</p></body></html>"
    )
    message = EmailMessage()
    message["From"] = "Linda Garcia <linda.garcia@example.com>"
    message["To"] = "legal@example.com"
    message["Subject"] = "Litigation hold for the warehouse dispute"
    message.set_content(
        "Please keep every document about the warehouse lease dispute under litigation hold until further "
        "notice. Questions go to Linda Garcia at linda.garcia@example.com.\n"
    )
    (us / "litigation-hold.eml").write_bytes(bytes(message))
    (pending / "zebra.md").write_text(
        "# Zebra migration study\n\nThe zebra migration study in the Serengeti counts herds every spring.\n"
    )
    (eu / "notes.xyz").write_text("a file in a format govrag does not read\n")
    return {"eu-internal": eu, "us-confidential": us, "eu-pending": pending}


def write_principals(path: Path) -> None:
    entries = [
        {"id": "reader_eu", "roles": ["reader"], "clearance": "internal", "regions": ["eu"]},
        {"id": "reader_us", "roles": ["reader"], "clearance": "confidential", "regions": ["us"]},
        {"id": "reader_none", "roles": ["reader"], "clearance": "restricted", "regions": ["apac"]},
        {"id": "steward", "roles": ["steward"]},
        {"id": "auditor", "roles": ["auditor"]},
    ]
    for entry in entries:
        entry["api_key_sha256"] = hash_api_key(KEYS[str(entry["id"])])
    path.write_text(yaml.safe_dump({"principals": entries}))


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}
