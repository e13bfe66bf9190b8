"""Stand-in for Tools.Directories.resolveFilename with configurable scope roots (for tests)."""

import os

SCOPE_TRANSPONDERDATA = 0
SCOPE_SYSETC = 1
SCOPE_FONTS = 2
SCOPE_SKIN = 3
SCOPE_SKIN_IMAGE = 4
SCOPE_USERETC = 5
SCOPE_CONFIG = 6
SCOPE_LANGUAGE = 7
SCOPE_HDD = 8
SCOPE_PLUGINS = 9
SCOPE_MEDIA = 10
SCOPE_PLAYLIST = 11
SCOPE_CURRENT_SKIN = 12

scope_roots = {
    SCOPE_CONFIG: "/etc/enigma2/",
    SCOPE_PLUGINS: "/usr/lib/enigma2/python/Plugins/",
    SCOPE_HDD: "/media/hdd/movie/",
    SCOPE_MEDIA: "/media/",
}


def resolveFilename(scope, base="", path_prefix=None):
    if base.startswith("/"):
        return base
    root = scope_roots.get(scope, "/")
    return os.path.join(root, base)


def fileExists(path, mode="r"):
    return os.access(path, os.R_OK if mode == "r" else os.W_OK)


def pathExists(path):
    return os.path.exists(path)
