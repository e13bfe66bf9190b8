"""Where the user's streams already are: the stream channels of the TV bouquets, channel lists
in m3u files, and the saved streams. Plain file reading, run on a worker thread (load_sources).

Bouquets are read from their files as enigma2 writes them (lib/dvb/db.cpp): bouquets.tv lists
``#SERVICE 1:7:1:0:0:0:0:0:0:0:FROM BOUQUET "userbouquet.x.tv" ORDER BY bouquet``; a user
bouquet has ``#NAME``, then ``#SERVICE <reference>`` lines, each optionally followed by a
``#DESCRIPTION`` (the name shown in the channel list). A stream channel is a reference of type
1, 4097, 5001 or 5002 whose path is an http(s) URL; DVB channels, markers and sub-bouquets are
skipped. Its resolved_url is the whole reference: the core (streamrecorder.streamurl) decodes it
and sends the ``#User-Agent=...`` headers with every request.

m3u channel lists (``#EXTM3U``, ``#EXTINF:-1 group-title="News",Name``, then the URL) are looked
for in the settings folder and on each mounted device: /media/<device>/ itself and its
``streams`` and ``iptv`` folders, never deeper. ``#EXTVLCOPT:http-user-agent=`` and
``http-referrer=`` become Kodi-style ``url|User-Agent=...`` headers; a Kodi ``url|...`` line
is kept as written. HLS playlists (files with ``#EXT-X-`` media tags) are not channel lists.
"""

import glob
import logging
import os
import re
from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple
from urllib.parse import quote, urlsplit

from streamrecorder import streamurl
from streamrecorder.errors import RecorderError
from twisted.internet import defer, threads

from .streams import read_streams

log = logging.getLogger(__name__)

MEDIA_DIR = "/media"  # mounted devices: /media/hdd, /media/usb, ...
LIST_FOLDERS = ("", "streams", "iptv")  # looked at on each device, not deeper
LIST_EXTENSIONS = (".m3u", ".m3u8")
MAX_LIST_FILES = 40  # a device full of playlists is not searched file by file
MAX_LIST_BYTES = 8 << 20  # a larger "list" is no channel list
STREAM_TYPES = (1, 4097, 5001, 5002)
# eServiceReference flags: isDirectory 1, mustDescent 2, isMarker 64, isGroup 128
NOT_A_CHANNEL = 1 | 2 | 64 | 128
_BOUQUET_RE = re.compile(r'FROM BOUQUET "([^"/]+)"')
_ATTR_RE = re.compile(r'([A-Za-z0-9_-]+)="([^"]*)"')
# Tags of an HLS playlist (RFC 8216): such a file is a stream, not a list of channels.
_HLS_TAGS = ("#EXT-X-TARGETDURATION", "#EXT-X-STREAM-INF", "#EXT-X-MEDIA-SEQUENCE")
_VLC_HEADERS = {"http-user-agent": "User-Agent", "http-referrer": "Referer",
                "http-referer": "Referer"}


class Channel(NamedTuple):
    name: str
    url: str  # as the recorder takes it (resolved_url): a service reference or a URL


class Group(NamedTuple):
    name: str
    source: str  # where it comes from, shown under the name (a file name)
    channels: List[Channel]


# --- bouquets ---------------------------------------------------------------------------------
def _read_lines(path: str) -> List[str]:
    with open(path, "rb") as f:
        data = f.read(MAX_LIST_BYTES + 1)
    if len(data) > MAX_LIST_BYTES:
        raise ValueError("larger than %d MB" % (MAX_LIST_BYTES >> 20))
    return data.decode("utf-8", "replace").splitlines()


def stream_reference(reference: str) -> Optional[streamurl.StreamUrl]:
    """The parsed reference when it is a stream channel (type 1/4097/5001/5002, http(s) path)."""
    ref = reference.strip()
    if not streamurl.is_service_reference(ref):
        return None
    fields = ref.split(":", 2)
    try:
        flags = int(fields[1])
    except (IndexError, ValueError):
        return None
    if flags & NOT_A_CHANNEL:
        return None
    try:
        parsed = streamurl.parse(ref)
    except RecorderError:
        return None  # a DVB channel (no path) or a path that is no http(s) URL
    return parsed if parsed.service_type in STREAM_TYPES else None


def parse_bouquet(lines: Iterable[str], fallback_name: str) -> Group:
    """One userbouquet file: its #NAME and its stream channels (named by #DESCRIPTION)."""
    name = fallback_name
    channels: List[Channel] = []
    pending: Optional[Tuple[str, streamurl.StreamUrl]] = None
    for raw in lines:
        line = raw.strip()
        upper = line.upper()
        if upper.startswith("#NAME "):
            name = line[6:].strip() or name
        elif upper.startswith("#DESCRIPTION") and pending is not None:
            channels.append(Channel(line[12:].lstrip(": ").strip() or _name_of(*pending),
                                    pending[0]))
            pending = None
            continue
        if upper.startswith("#SERVICE ") or upper.startswith("#SERVICE:"):
            if pending is not None:
                channels.append(Channel(_name_of(*pending), pending[0]))
            ref = line[9:].strip()
            parsed = stream_reference(ref)
            pending = (ref, parsed) if parsed is not None else None
    if pending is not None:
        channels.append(Channel(_name_of(*pending), pending[0]))
    return Group(name, fallback_name, channels)


def _name_of(reference: str, parsed: streamurl.StreamUrl) -> str:
    """A channel without #DESCRIPTION: the reference's name, else the server's host."""
    return parsed.name or urlsplit(parsed.url).hostname or reference


def bouquet_files(config_dir: str, index: str = "bouquets.tv") -> List[str]:
    """The user bouquet files bouquets.tv names, in its order."""
    path = os.path.join(config_dir, index)
    try:
        lines = _read_lines(path)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return []
    names: List[str] = []
    for line in lines:
        if line.strip().upper().startswith("#SERVICE"):
            m = _BOUQUET_RE.search(line)
            if m and m.group(1) not in names:
                names.append(m.group(1))
    return names


def read_bouquets(config_dir: str) -> List[Group]:
    """The TV bouquets with at least one stream channel."""
    groups = []
    for file_name in bouquet_files(config_dir):
        path = os.path.join(config_dir, file_name)
        try:
            group = parse_bouquet(_read_lines(path), file_name)
        except (OSError, ValueError) as exc:
            log.warning("cannot read the bouquet %s: %s", path, exc)
            continue
        if group.channels:
            groups.append(group)
    return groups


# --- m3u channel lists --------------------------------------------------------------------------
def list_files(config_dir: str, media_dir: str = MEDIA_DIR) -> List[str]:
    """m3u/m3u8 files in the settings folder and in /media/<device>/{,streams,iptv}/."""
    folders = [config_dir]
    for device in sorted(glob.glob(os.path.join(glob.escape(media_dir), "*"))):
        folders.extend(os.path.join(device, sub) for sub in LIST_FOLDERS)
    found: List[str] = []
    for folder in folders:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue  # missing, not a folder, or a device that does not answer
        for name in names:
            path = os.path.join(folder, name)
            if name.lower().endswith(LIST_EXTENSIONS) and os.path.isfile(path):
                found.append(path)
                if len(found) >= MAX_LIST_FILES:
                    return found
    return found


def _with_headers(url: str, headers: List[Tuple[str, str]]) -> str:
    """url with #EXTVLCOPT headers in Kodi's url|Name=value form (a url|... line is kept)."""
    if not headers or "|" in url:
        return url
    return url + "|" + "&".join("%s=%s" % (name, quote(value, safe="")) for name, value in headers)


def parse_m3u(lines: Iterable[str], list_name: str) -> List[Group]:
    """The channels of one m3u list, grouped by group-title (in order of appearance)."""
    groups: Dict[str, List[Channel]] = {}
    name: Optional[str] = None
    group = ""
    headers: List[Tuple[str, str]] = []
    for raw in lines:
        line = raw.strip().lstrip("\ufeff")
        upper = line.upper()
        if not line:
            continue
        if upper.startswith(_HLS_TAGS):
            return []  # an HLS playlist, not a channel list
        if upper.startswith("#EXTINF"):
            # The name follows the first comma outside the quoted attributes (a tvg-name may
            # hold commas).
            attrs = dict(_ATTR_RE.findall(line))
            title = _ATTR_RE.sub("", line).partition(",")[2]
            name = title.strip() or attrs.get("tvg-name") or None
            group, headers = attrs.get("group-title", "").strip(), []
        elif upper.startswith("#EXTGRP:"):
            group = line[8:].strip() or group
        elif upper.startswith("#EXTVLCOPT:"):
            key, _sep, value = line[11:].partition("=")
            header = _VLC_HEADERS.get(key.strip().lower())
            if header and value.strip():
                headers.append((header, value.strip()))
        elif not line.startswith("#"):
            url = _with_headers(line, headers)
            if valid_stream(url):
                channel = Channel(name or host_of(url) or url, url)
                groups.setdefault(group, []).append(channel)
            name, group, headers = None, "", []
    return [Group("%s: %s" % (list_name, g) if g else list_name, list_name, channels)
            for g, channels in groups.items()]


def valid_stream(url: str) -> bool:
    try:
        streamurl.parse(url)
    except RecorderError:
        return False
    return True


def host_of(url: str) -> str:
    """The server a channel comes from (no path, query or header values: they hold tokens)."""
    try:
        return urlsplit(streamurl.parse(url).url).hostname or ""
    except (RecorderError, ValueError):
        return ""


def read_lists(config_dir: str, media_dir: str = MEDIA_DIR) -> List[Group]:
    groups: List[Group] = []
    for path in list_files(config_dir, media_dir):
        try:
            lines = _read_lines(path)
        except (OSError, ValueError) as exc:
            log.warning("cannot read the channel list %s: %s", path, exc)
            continue
        groups.extend(parse_m3u(lines, os.path.basename(path)))
    return groups


# --- everything --------------------------------------------------------------------------------
def read_saved(streams_path: str, title: str) -> List[Group]:
    saved = [Channel(s["name"], s["url"]) for s in read_streams(streams_path)]
    return [Group(title, os.path.basename(streams_path), saved)] if saved else []


def read_all(config_dir: str, streams_path: str, saved_title: str,
             media_dir: str = MEDIA_DIR) -> List[Group]:
    """Bouquets, then m3u lists, then the saved streams (blocking: run it on a worker thread)."""
    return (read_bouquets(config_dir) + read_lists(config_dir, media_dir)
            + read_saved(streams_path, saved_title))


def load_sources(config_dir: str, streams_path: str, saved_title: str) -> defer.Deferred:
    """read_all on a worker thread; fires on the reactor with the groups."""
    return threads.deferToThread(read_all, config_dir, streams_path, saved_title, MEDIA_DIR)
