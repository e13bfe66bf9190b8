"""Fast MPEG-TS work on whole buffers: framing, PSI/SPS probing, joining segments into sections."""

from .joiner import SectionJoiner
from .packets import align, looks_like_ts
from .probe import StreamInfo, parse_psi, video_resolution

__all__ = ["SectionJoiner", "StreamInfo", "align", "looks_like_ts", "parse_psi", "video_resolution"]
