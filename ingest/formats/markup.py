"""HTML and XML: .html, .htm and .xml, through unstructured's partitioners.

HTML is decoded here (byte-order mark, then UTF-8, then the <meta> charset, then detection) and handed
over as text. XML goes over as bytes: lxml reads its byte-order mark and encoding declaration itself,
and unstructured's XML partitioner parses without resolving entities, so a document cannot pull in
local files or expand entities without bound.
"""

from __future__ import annotations

import io

from ingest.formats.common import NO_LANGUAGE_DETECTION, Element, Partitioner, from_unstructured
from ingest.formats.encoding import declared_html_charset, decode_text

__all__ = ["PARTITIONERS", "partition_html_text"]


def partition_html(data: bytes) -> list[Element]:
    return partition_html_text(decode_text(data, declared=declared_html_charset(data)))


def partition_html_text(html: str) -> list[Element]:
    """Elements of an HTML document already decoded; shared with the routes that produce HTML."""
    from unstructured.partition.html import partition_html as unstructured_html

    if not html.strip():
        return []
    return from_unstructured(unstructured_html(text=html, languages=NO_LANGUAGE_DETECTION))


def partition_xml(data: bytes) -> list[Element]:
    from unstructured.partition.xml import partition_xml as unstructured_xml

    return from_unstructured(unstructured_xml(file=io.BytesIO(data), languages=NO_LANGUAGE_DETECTION))


PARTITIONERS: dict[str, Partitioner] = {
    ".html": partition_html,
    ".htm": partition_html,
    ".xml": partition_xml,
}
