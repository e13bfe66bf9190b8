"""StreamRecorder for Enigma2: the plugin's own translations (gettext domain StreamRecorder)."""

import gettext
import os

from .compat import on_language_change

DOMAIN = "StreamRecorder"
PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
LOCALE_DIR = os.path.join(PLUGIN_DIR, "locale")


def locale_init(locale_dir: str = LOCALE_DIR) -> None:
    """Bind the catalogue. enigma2 itself sets LANGUAGE for the GUI language
    (Components/Language.py); the plugin never writes the environment other plugins share."""
    gettext.bindtextdomain(DOMAIN, locale_dir)


def _(text: str) -> str:
    translated = gettext.dgettext(DOMAIN, text)
    if translated == text:
        # Generic words ("Cancel", "Save") may come from enigma2's own catalogue.
        translated = gettext.gettext(text)
    return translated


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext.dngettext(DOMAIN, singular, plural, n)


locale_init()
on_language_change(locale_init)
