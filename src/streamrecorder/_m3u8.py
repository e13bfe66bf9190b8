"""The m3u8 library the core uses: `from ._m3u8 import m3u8` (or `from .._m3u8 import m3u8`).

The system's m3u8 when it imports and is suitable (release 3 or later, with `M3U8` and `loads`);
otherwise the copy the .ipk bundles as `streamrecorder._vendor.m3u8`, which imports relatively and
so never takes the top-level name `m3u8` from other plugins. On a desktop the m3u8 that setup.py
installs is the system one.
"""

import re
from types import ModuleType
from typing import Optional, Tuple

MIN_VERSION = (3,)


def _version_of(module: ModuleType) -> Optional[Tuple[int, ...]]:
    """The release of an imported m3u8 as a tuple of ints, or None when it cannot be told."""
    text = getattr(module, "__version__", None)
    if not isinstance(text, str):
        try:
            from importlib.metadata import version
            text = version("m3u8")
        except Exception:  # no metadata (or no importlib.metadata): unknown
            return None
    numbers = re.findall(r"\d+", text.split("+")[0])[:3]
    return tuple(int(n) for n in numbers) if numbers else None


def suitable(module: ModuleType) -> bool:
    version = _version_of(module)
    return (version is not None and version >= MIN_VERSION and hasattr(module, "M3U8")
            and callable(getattr(module, "loads", None)))


def _system_m3u8() -> Optional[ModuleType]:
    try:
        import m3u8
    except Exception:  # missing, or broken in a way we cannot fix: use the bundled copy
        return None
    return m3u8 if suitable(m3u8) else None


def _load() -> ModuleType:
    module = _system_m3u8()
    if module is not None:
        return module
    try:
        from ._vendor import m3u8 as bundled
    except ImportError:
        raise ImportError("m3u8 (>= 3) is not installed and this installation carries no bundled "
                          "copy (streamrecorder._vendor.m3u8)") from None
    return bundled


m3u8 = _load()
