"""HLS policy: playlist parsing (playlist), variant choice (variants), live reload rules (live).

Fetching lives in hls.fetch and section files in hls.sections; nothing here does I/O except them.
"""
