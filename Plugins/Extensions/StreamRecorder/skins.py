"""Skins for HD (1280x720) and FHD (1920x1080) OSDs; all layout lives in skin_hd.xml/skin_fhd.xml."""

import os
import xml.etree.ElementTree as ET
from typing import Dict, Optional

from .compat import desktop_width

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
_cache: Dict[str, Dict[str, str]] = {}


def skin_file(width: Optional[int] = None) -> str:
    """skin_fhd.xml for a 1920 pixel wide OSD (or wider), else skin_hd.xml."""
    fhd = (width if width is not None else desktop_width()) >= 1920
    return os.path.join(PLUGIN_DIR, "skin_fhd.xml" if fhd else "skin_hd.xml")


def screens(path: str) -> Dict[str, str]:
    """name -> <screen> XML of one skin file (read once)."""
    if path not in _cache:
        root = ET.parse(path).getroot()
        _cache[path] = {s.get("name", ""): ET.tostring(s, encoding="unicode")
                        for s in root.iter("screen")}
    return _cache[path]


def get(name: str, width: Optional[int] = None) -> str:
    """The <screen name=...> skin for the current OSD size."""
    return screens(skin_file(width))[name]
