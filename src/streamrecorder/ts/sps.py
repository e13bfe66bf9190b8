"""Picture size from an H.264 or HEVC sequence parameter set (pure bit parsing, no ffprobe)."""

import re
from typing import Optional, Tuple

MAX_DIMENSION = 16384
# H.264 profiles whose SPS carries chroma format, bit depths and scaling matrices (7.3.2.1.1).
_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}
# chroma_format_idc -> (SubWidthC, SubHeightC); 0 is monochrome.
_CHROMA_SUBSAMPLING = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}
_START_CODE = b"\x00\x00\x01"


class _OutOfBits(Exception):
    """The SPS ended (or held a nonsensical value) before the fields we need."""


class BitReader:
    """MSB-first reader of fixed-width and Exp-Golomb fields."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.left = len(data) * 8

    def u(self, n: int) -> int:
        """Read an n-bit unsigned field."""
        if n > self.left:
            raise _OutOfBits()
        self.left -= n
        return (self.value >> self.left) & ((1 << n) - 1)

    def ue(self) -> int:
        """Read an unsigned Exp-Golomb field."""
        zeros = 0
        while not self.u(1):
            zeros += 1
            if zeros > 31:
                raise _OutOfBits()
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        """Read a signed Exp-Golomb field."""
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def unescape(nal: bytes) -> bytes:
    """Remove emulation-prevention bytes (00 00 03 -> 00 00)."""
    return re.sub(b"\x00\x00\x03", b"\x00\x00", nal)


def _cropped(width: int, height: int, crop_x: int, crop_y: int) -> Optional[Tuple[int, int]]:
    width -= crop_x
    height -= crop_y
    if 0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION:
        return width, height
    return None


def _skip_scaling_list(r: BitReader, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt:
            nxt = (last + r.se()) & 0xFF
        if nxt:
            last = nxt


def h264_sps_size(rbsp: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) from an H.264 SPS payload (after the NAL header byte, unescaped)."""
    try:
        r = BitReader(rbsp)
        profile = r.u(8)
        r.u(16)  # constraint flags, level_idc
        r.ue()  # seq_parameter_set_id
        chroma_format = 1
        separate_planes = 0
        if profile in _HIGH_PROFILES:
            chroma_format = r.ue()
            if chroma_format > 3:
                return None
            if chroma_format == 3:
                separate_planes = r.u(1)
            r.ue()  # bit_depth_luma_minus8
            r.ue()  # bit_depth_chroma_minus8
            r.u(1)  # qpprime_y_zero_transform_bypass_flag
            if r.u(1):  # seq_scaling_matrix_present_flag
                for i in range(12 if chroma_format == 3 else 8):
                    if r.u(1):
                        _skip_scaling_list(r, 16 if i < 6 else 64)
        r.ue()  # log2_max_frame_num_minus4
        poc_type = r.ue()
        if poc_type == 0:
            r.ue()  # log2_max_pic_order_cnt_lsb_minus4
        elif poc_type == 1:
            r.u(1)
            r.se()
            r.se()
            cycle = r.ue()
            if cycle > 255:
                return None
            for _ in range(cycle):
                r.se()
        r.ue()  # max_num_ref_frames
        r.u(1)  # gaps_in_frame_num_value_allowed_flag
        width = (r.ue() + 1) * 16
        map_units = r.ue() + 1
        frame_mbs_only = r.u(1)
        if not frame_mbs_only:
            r.u(1)  # mb_adaptive_frame_field_flag
        r.u(1)  # direct_8x8_inference_flag
        height = (2 - frame_mbs_only) * map_units * 16
        crop_x = crop_y = 0
        if r.u(1):  # frame_cropping_flag
            left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
            if separate_planes or chroma_format == 0:
                unit_x, unit_y = 1, 2 - frame_mbs_only
            else:
                sub_w, sub_h = _CHROMA_SUBSAMPLING[chroma_format]
                unit_x, unit_y = sub_w, sub_h * (2 - frame_mbs_only)
            crop_x = unit_x * (left + right)
            crop_y = unit_y * (top + bottom)
        return _cropped(width, height, crop_x, crop_y)
    except _OutOfBits:
        return None


def _skip_profile_tier_level(r: BitReader, max_sub_layers_minus1: int) -> None:
    r.u(88)  # general profile space, tier, profile_idc, compatibility and constraint flags
    r.u(8)  # general_level_idc
    sub_profile = []
    sub_level = []
    for _ in range(max_sub_layers_minus1):
        sub_profile.append(r.u(1))
        sub_level.append(r.u(1))
    if max_sub_layers_minus1:
        r.u(2 * (8 - max_sub_layers_minus1))  # reserved_zero_2bits
    for i in range(max_sub_layers_minus1):
        if sub_profile[i]:
            r.u(88)
        if sub_level[i]:
            r.u(8)


def hevc_sps_size(rbsp: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) from an HEVC SPS payload (after the 2-byte NAL header, unescaped)."""
    try:
        r = BitReader(rbsp)
        r.u(4)  # sps_video_parameter_set_id
        max_sub_layers_minus1 = r.u(3)
        r.u(1)  # sps_temporal_id_nesting_flag
        _skip_profile_tier_level(r, max_sub_layers_minus1)
        r.ue()  # sps_seq_parameter_set_id
        chroma_format = r.ue()
        if chroma_format > 3:
            return None
        separate_planes = r.u(1) if chroma_format == 3 else 0
        width = r.ue()
        height = r.ue()
        crop_x = crop_y = 0
        if r.u(1):  # conformance_window_flag
            left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
            sub_w, sub_h = (1, 1) if separate_planes else _CHROMA_SUBSAMPLING[chroma_format]
            crop_x = sub_w * (left + right)
            crop_y = sub_h * (top + bottom)
        return _cropped(width, height, crop_x, crop_y)
    except _OutOfBits:
        return None


def find_sps_size(es: bytes, codec: str) -> Optional[Tuple[int, int]]:
    """Size from the first SPS NAL unit in an Annex B elementary-stream chunk, or None."""
    pos = es.find(_START_CODE)
    while 0 <= pos < len(es) - 3:
        start = pos + 3
        header = es[start]
        nxt = es.find(_START_CODE, start)
        end = nxt if nxt >= 0 else len(es)
        if codec == "h264" and header & 0x1F == 7:
            size = h264_sps_size(unescape(es[start + 1:end]))
            if size:
                return size
        elif codec == "hevc" and (header >> 1) & 0x3F == 33:
            size = hevc_sps_size(unescape(es[start + 2:end]))
            if size:
                return size
        pos = nxt
    return None
