"""The dashboard's basemap: which tile server it reads, and the credit that server asks for.

Both come from the settings (`COACHCO2_MAP_TILE_URL`, `COACHCO2_MAP_TILE_ATTRIBUTION`) and are checked
when the settings are read, so that a typo stops the service at start rather than leaving operators with
a grey map. The page's Content-Security-Policy allows images from the tile URL's origin and no other.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

OSM_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
PLACEHOLDERS = ("{z}", "{x}", "{y}")


def check_tile_url(url: str) -> str:
    """An http(s) URL template with {z}, {x} and {y}, on a single origin (no {s} sub-domains: the page's
    Content-Security-Policy names exactly one)."""
    missing = [p for p in PLACEHOLDERS if p not in url]
    if missing:
        raise ValueError(
            f"map_tile_url must contain {', '.join(PLACEHOLDERS)} (missing {', '.join(missing)})"
        )
    filled = url
    for placeholder in PLACEHOLDERS:
        filled = filled.replace(placeholder, "0")
    if any(c in filled for c in "{}<>\"' \\") or any(ord(c) < 0x20 for c in filled):
        raise ValueError("map_tile_url may hold no placeholder but {z}, {x}, {y}, nor quotes or spaces")
    parts = urlsplit(filled)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("map_tile_url must be an https:// (or http://) URL with a host")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise ValueError("map_tile_url may carry neither credentials nor a #fragment")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError("map_tile_url has a malformed port") from None
    return url


def tile_origin(url: str) -> str:
    """scheme://host[:port] of a checked tile URL, as a Content-Security-Policy source."""
    parts = urlsplit(url.replace("{z}", "0").replace("{x}", "0").replace("{y}", "0"))
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port is not None else "")


class _Attribution(HTMLParser):
    """Accepts text and <a href="http(s)://..."> links, nothing else."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problem: str | None = None

    def refuse(self, what: str) -> None:
        self.problem = self.problem or what  # the first one found is named

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            self.refuse(f"<{tag}> (only text and <a href> links are allowed)")
            return
        for name, value in attrs:
            if name == "href":
                if not (value or "").startswith(("https://", "http://")):
                    self.refuse("a link whose href is not an http(s) URL")
            elif name not in ("title", "target", "rel"):
                self.refuse(f"the attribute {name!r} (links may carry href, title, target and rel)")

    def handle_endtag(self, tag: str) -> None:
        if tag != "a":
            self.refuse(f"</{tag}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refuse(f"<{tag}/> (only text and <a href> links are allowed)")

    def handle_comment(self, data: str) -> None:
        self.refuse("a comment")

    def handle_decl(self, decl: str) -> None:
        self.refuse("a declaration")

    def handle_pi(self, data: str) -> None:
        self.refuse("a processing instruction")


def check_attribution(text: str) -> str:
    """The credit shown in the map's corner: text with optional <a href="https://..."> links (the map
    library puts it in the page as markup, so nothing else may be in it)."""
    if not text.strip():
        raise ValueError("map_tile_attribution must credit the tiles' provider (their licence asks for it)")
    parser = _Attribution()
    parser.feed(text)
    parser.close()
    if parser.problem is not None:
        raise ValueError(f"map_tile_attribution may not hold {parser.problem}")
    return text
