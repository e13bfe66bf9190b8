"""Receiver URL conventions: turn a stream URL as receivers write it into (plain URL, headers).

Read wherever a URL enters (architecture.md, "resolve_result"):

1. enigma2: ``url#User-Agent=Box&Referer=http://x/&Other=value``.
   Everything after the first ``#`` is parsed the way enigma2's ``eHttpStream::open()``
   (lib/base/httpstream.cpp; servicemp3 uses the same loop) does it: the name runs up to the
   next ``=``, the value up to the next ``&`` (so a value may hold ``=``, never ``&``), and the
   first invalid pair (no ``=`` left, an empty name or an empty value) ends the parsing: it and
   everything after it are ignored. A segment without ``=`` therefore joins the next name
   (``a&B=1`` gives the name ``a&B``), exactly as on the box. Values are NOT URL-decoded: enigma2
   sends them as written. (In a service reference the whole path was decoded once already, which
   is how ``%3a`` in a Referer becomes ``:``.)
   A ``#`` may also start an ordinary URL fragment (``.../p.m3u8#t=10``). The text after it counts
   as headers only when its first pair is ``Name=value`` with a name that is an HTTP token (RFC
   9110 tchar) and not every name is a W3C media-fragment key (``t``, ``xywh``, ``track``, ``id``).
   Otherwise it is a fragment and is dropped: a fragment is never sent to a server anyway.
   Differences from the box: every pair is kept in order (a repeated name: the later wins
   when applied, as in servicemp3's GstStructure; httpstream takes its User-Agent from the
   first ``User-Agent=``), and a value's surrounding spaces and tabs are stripped.
2. Kodi: ``url|User-Agent=Mozilla%2F5.0&Referer=https%3A%2F%2Fx%2F``.
   Everything after the first ``|`` is split on ``&`` (empty segments skipped), each segment
   on its first ``=``, and name and value are URL-decoded as Kodi's ``CURL::Decode`` does
   (``%xx`` and ``+`` as a space). Kodi's protocol options that are not headers (``verifypeer``,
   ``seekable``, ``noshout``, ``auth``, ``postdata``, ...) are dropped, never sent. ``referer``,
   ``user-agent``, ``cookie``, ``acceptencoding``/``encoding`` and ``accept-charset`` get their
   header names. A leading ``!`` (Kodi's "hide value in log") is removed. Segments with an empty
   value are dropped. When a URL carries both, the ``|`` part is split off first (as Kodi does),
   and the part before it may still hold ``#`` headers or a fragment.
3. A service reference ``type:flags:8 hex fields:path[:name]`` (lib/service/service.cpp), e.g.
   ``4097:0:1:0:0:0:0:0:0:0:http%3a//host/live.m3u8#User-Agent=Box:Channel``: the path ends at the
   next ``:`` and everything after that is the name; both are URL-decoded with ``%xx`` only
   (enigma2's urlDecode leaves ``+`` alone). As in enigma2, a path written with an unencoded
   ``://`` ends at the first space instead, the name following it (no space: the whole rest is the
   path). A leading ``#SERVICE `` (a bouquet file line) is accepted. The decoded path may carry
   ``#`` or ``|`` headers (1. and 2.).
4. Anything else is taken as a plain URL and passes unchanged.

A header name or value holding CR, LF or NUL (after decoding) is refused, so is a name that is not
an HTTP token; the URL must be http(s) with a host and free of control characters. All of these
raise RecorderError. describe() renders a StreamUrl for log lines without query or header values.
"""

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple
from urllib.parse import unquote, unquote_plus, urlsplit

from .errors import RecorderError
from .http import check_header_value

__all__ = ["StreamUrl", "parse", "is_service_reference", "describe", "loggable"]

# RFC 9110 section 5.6.2: token = 1*tchar
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# enigma2: sscanf("%d:%d:%x:%x:%x:%x:%x:%x:%x:%x:%n"); the path and name follow the last ':'.
_SERVICE_RE = re.compile(r"(-?[0-9]+):(-?[0-9]+)((?::[0-9A-Fa-f]+){8})(?::(.*))?\Z", re.DOTALL)
_BOUQUET_PREFIX = "#SERVICE "
# W3C Media Fragments URI 1.0 dimensions: a '#' tail made of these alone is a fragment.
_MEDIA_FRAGMENT_KEYS = frozenset(("t", "xywh", "track", "id"))
# Kodi CCurlFile::ParseAndCorrectUrl(): protocol options that are not request headers.
_KODI_OPTIONS = frozenset((
    "auth", "noshout", "seekable", "sslcipherlist", "connection-timeout", "failonerror",
    "redirect-limit", "postdata", "customrequest", "verifypeer",
))
# ... and those it turns into a header of another spelling.
_KODI_HEADER_NAMES = {
    "referer": "Referer",
    "user-agent": "User-Agent",
    "cookie": "Cookie",
    "acceptencoding": "Accept-Encoding",
    "encoding": "Accept-Encoding",
    "accept-charset": "Accept-Charset",
}
_LINE_BREAKS_RE = re.compile(r"[\r\n\0]")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, repr=False)
class StreamUrl:
    url: str                                   # what to request (no header suffix, no fragment)
    headers: Tuple[Tuple[str, str], ...] = ()  # in order; later duplicates win when applied
    name: Optional[str] = None                 # the channel name of a service reference
    service_type: Optional[int] = None         # 1, 4097, 5001, 5002 ... for a service reference

    def __repr__(self) -> str:
        # Header values and query strings often carry tokens: never in a repr.
        return "StreamUrl(%s)" % describe(self)


def is_service_reference(text: str) -> bool:
    """True when text is an enigma2 service reference string (type:flags:8 hex fields[:...])."""
    return _match_service(_strip_bouquet_prefix(str(text or "").strip())) is not None


def parse(text: str) -> StreamUrl:
    """The URL to request, its headers and, for a service reference, its name and type."""
    s = _strip_bouquet_prefix(str(text or "").strip())
    name = None  # type: Optional[str]
    service_type = None  # type: Optional[int]
    what = "stream URL"
    m = _match_service(s)
    if m is not None:
        service_type = int(m.group(1))
        path, name = _split_service_path(m.group(4) or "")
        s = unquote(path).strip()
        name = unquote(name).strip() if name else None
        name = name or None
        what = "service reference %d:...: its path" % service_type

    kodi = None  # type: Optional[str]
    bar = s.find("|")
    if bar >= 0:
        s, kodi = s[:bar], s[bar + 1:]
    e2 = None  # type: Optional[str]
    hash_pos = s.find("#")
    if hash_pos >= 0:
        s, e2 = s[:hash_pos], s[hash_pos + 1:]
    url = s.strip()
    _check_url(url, what)

    headers = []  # type: List[Tuple[str, str]]
    if e2 is not None and _looks_like_headers(e2):
        headers.extend(_enigma2_headers(e2))
    if kodi is not None:
        headers.extend(_kodi_headers(kodi))
    return StreamUrl(url=url, headers=tuple(headers), name=name, service_type=service_type)


def describe(su: StreamUrl) -> str:
    """su for a log line: the URL without query string or user info, header names without values."""
    out = _redact_url(su.url)
    names = []  # type: List[str]
    seen = set()
    for hname, _value in su.headers:
        if hname.lower() not in seen:
            seen.add(hname.lower())
            names.append(hname)
    if names:
        out += " [headers: %s]" % ", ".join(names)
    if su.service_type is not None:
        out += " [service %d%s]" % (su.service_type, " %r" % su.name if su.name else "")
    return out


def loggable(text: str) -> str:
    """Any URL text as a user may have written it, for logs and descriptions: describe() of
    it, or (unparsable) its part before a header suffix, without query string."""
    try:
        return describe(parse(text))
    except RecorderError:
        return _redact_url(str(text or "").split("#", 1)[0].split("|", 1)[0].strip())


# --- internals ------------------------------------------------------------------------------

def _strip_bouquet_prefix(s: str) -> str:
    if s.upper().startswith(_BOUQUET_PREFIX):
        return s[len(_BOUQUET_PREFIX):].lstrip()
    return s


def _match_service(s: str):
    return _SERVICE_RE.match(s)


def _split_service_path(rest: str) -> Tuple[str, Optional[str]]:
    """eServiceReference(const std::string&): (raw path, raw name or None)."""
    colon = rest.find(":")
    if colon < 0:
        return rest, None
    if rest.startswith("://", colon):
        # An unencoded URL: it ends at a space; enigma2 then drops the path when there is no
        # space, we take the whole rest as the path.
        space = rest.find(" ", colon)
        if space < 0:
            return rest, None
        return rest[:space], rest[space + 1:] or None
    return rest[:colon], rest[colon + 1:] or None


def _redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "<invalid URL>"
    host = parts.hostname or ""
    if ":" in host:
        host = "[%s]" % host
    netloc = ("***@" if "@" in parts.netloc else "") + host + (":%d" % port if port else "")
    out = "%s://%s%s" % (parts.scheme, netloc, parts.path)
    if parts.query:
        out += "?..."
    return out


def _check_url(url: str, what: str) -> None:
    if not url:
        raise RecorderError("%s is empty: not an http(s) URL" % what)
    if _CONTROL_RE.search(url):
        raise RecorderError("%s contains a control character (line break?); refusing it: %s"
                            % (what, _redact_url(_CONTROL_RE.sub("", url))))
    try:
        parts = urlsplit(url)
        _port = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        raise RecorderError("%s is not an http(s) URL (%s)" % (what, exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise RecorderError("%s is not an http(s) URL (scheme %r): %s"
                            % (what, parts.scheme, _redact_url(url)))
    if not parts.hostname:
        raise RecorderError("%s is not an http(s) URL (no host): %s" % (what, _redact_url(url)))


def _enigma2_pairs(tail: str) -> List[Tuple[str, str]]:
    """The extra_headers loop of eHttpStream::open(), up to its first invalid pair."""
    pairs = []  # type: List[Tuple[str, str]]
    pos = 0
    while tail:
        eq = tail.find("=", pos)
        if eq < 0:
            break
        name = tail[pos:eq]
        amp = tail.find("&", eq + 1)
        value = tail[eq + 1:] if amp < 0 else tail[eq + 1:amp]
        if not name or not value:
            break  # "Invalid header format": the rest is ignored
        pairs.append((name, value))
        if amp < 0:
            break
        pos = amp + 1
    return pairs


def _looks_like_headers(tail: str) -> bool:
    """Is the text after '#' enigma2 headers (True) or a URL fragment (False)?"""
    pairs = _enigma2_pairs(tail)
    if not pairs:
        return False
    # A line break in the first name must not turn an injection attempt into a quiet fragment.
    first = _LINE_BREAKS_RE.sub("", pairs[0][0])
    if not _TOKEN_RE.match(first):
        return False
    return not all(n.lower() in _MEDIA_FRAGMENT_KEYS for n, _v in pairs)


def _header(name: str, value: str) -> Optional[Tuple[str, str]]:
    """One checked header, or None when its value is empty."""
    check_header_value(name, value)  # RecorderError naming the header for CR/LF/NUL
    if not _TOKEN_RE.match(name):
        raise RecorderError("header name %r is not a valid HTTP token; refusing it" % name)
    value = value.strip(" \t")
    if not value:
        return None
    return name, value


def _enigma2_headers(tail: str) -> List[Tuple[str, str]]:
    out = []
    for name, value in _enigma2_pairs(tail):
        h = _header(name, value)
        if h is not None:
            out.append(h)
    return out


def _kodi_headers(tail: str) -> List[Tuple[str, str]]:
    """CUrlOptions::AddOptions() then CCurlFile::ParseAndCorrectUrl()."""
    if tail.startswith("|"):  # CURL::SetProtocolOptions()
        tail = tail[1:]
    if tail[:1] in ("?", "#", ";", "|"):  # CUrlOptions::AddOptions(): one leading separator
        tail = tail[1:]
    out = []
    for segment in tail.split("&"):
        if not segment:
            continue
        raw_name, eq, raw_value = segment.partition("=")
        name = unquote_plus(raw_name)
        value = unquote_plus(raw_value) if eq else ""
        if not name:
            continue  # Kodi: "the key cannot be empty"
        check_header_value(name, value)
        lower = name.lower()
        if lower in _KODI_OPTIONS:
            continue
        if lower in _KODI_HEADER_NAMES:
            name = _KODI_HEADER_NAMES[lower]
        elif name.startswith("!"):
            name = name[1:]
        h = _header(name, value)
        if h is not None:
            out.append(h)
    return out
