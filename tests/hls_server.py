"""HLS playlists served by the loopback DevServer: VOD sets and a live sliding window."""

import threading
import time


def media_playlist(entries, target=None, endlist=True, media_sequence=0, extra_head=()):
    """Playlist text from (uri, duration[, extra tag lines before it]) entries."""
    target = target or max(1, int(max(e[1] for e in entries) + 0.999)) if entries else 1
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:%d" % target,
             "#EXT-X-MEDIA-SEQUENCE:%d" % media_sequence, *extra_head]
    for entry in entries:
        uri, duration = entry[0], entry[1]
        lines.extend(entry[2] if len(entry) > 2 else ())
        lines.append("#EXTINF:%.3f," % duration)
        lines.append(uri)
    if endlist:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def publish_vod(server, prefix, segments, durations=None, extra=None):
    """Serve segment files at /<prefix>/seg_<i>.ts and a VOD playlist at /<prefix>/index.m3u8."""
    entries = []
    for i, path in enumerate(segments):
        server.put("/%s/seg_%d.ts" % (prefix, i), path.read_bytes())
        tags = (extra or {}).get(i, ())
        entries.append(("seg_%d.ts" % i, (durations or {}).get(i, 1.0), tags))
    text = media_playlist(entries)
    server.put("/%s/index.m3u8" % prefix, text.encode())
    return server.url("/%s/index.m3u8" % prefix)


class LiveStream:
    """A live sliding window advancing in real time over a pool of segments.

    Media sequence n maps to pool[n % len(pool)]; `seg_dur` seconds per segment. Events:
    `stall_at` (seq after which the playlist stops changing), `reset_at` (seq after which
    numbering restarts at 0), `end_at` (seq at which EXT-X-ENDLIST appears).
    """

    def __init__(self, server, pool, seg_dur=0.5, window=6, prefix="live", start_seq=100,
                 stall_at=None, reset_at=None, end_at=None, outage=None):
        self.server = server
        self.pool = [p.read_bytes() for p in pool]
        self.seg_dur = seg_dur
        self.window = window
        self.prefix = prefix
        self.start_seq = start_seq
        self.stall_at = stall_at
        self.reset_at = reset_at
        self.end_at = end_at
        self.outage = outage  # (from_seconds, to_seconds) of wall time: 503 for everything
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.playlist_requests = []
        server.route("/%s/index.m3u8" % prefix, self._playlist)
        for n in range(len(self.pool)):
            server.put("/%s/pool_%d.ts" % (prefix, n), self.pool[n])

    @property
    def url(self):
        return self.server.url("/%s/index.m3u8" % self.prefix)

    def _down(self):
        if self.outage is None:
            return False
        elapsed = time.monotonic() - self.t0
        return self.outage[0] <= elapsed < self.outage[1]

    def edge(self):
        """Newest published sequence number (before stall/reset/end rules)."""
        return self.start_seq + self.window - 1 + int((time.monotonic() - self.t0) / self.seg_dur)

    def _playlist(self, request):
        with self.lock:
            self.playlist_requests.append(time.monotonic())
        if self._down():
            return 503, {"Content-Type": "text/plain"}, b"down"
        edge = self.edge()
        ended = False
        if self.stall_at is not None:
            edge = min(edge, self.stall_at)
        if self.end_at is not None and edge >= self.end_at:
            edge, ended = self.end_at, True
        first = max(self.start_seq, edge - self.window + 1)
        seqs = list(range(first, edge + 1))
        media_seq = first
        disc_seq = 0
        head = []
        if self.reset_at is not None and edge > self.reset_at:
            # after the reset the origin numbers from 0 again (an encoder restart)
            seqs = [s for s in seqs if s > self.reset_at]
            media_seq = seqs[0] - self.reset_at - 1
            disc_seq = 1
            head = ["#EXT-X-DISCONTINUITY-SEQUENCE:%d" % disc_seq]
        entries = []
        for s in seqs:
            pool_index = s % len(self.pool)
            entries.append(("pool_%d.ts" % pool_index, self.seg_dur))
        text = media_playlist(entries, target=max(1, int(self.seg_dur + 0.999)), endlist=ended,
                              media_sequence=media_seq, extra_head=head)
        return 200, {"Content-Type": "application/vnd.apple.mpegurl"}, text.encode()
