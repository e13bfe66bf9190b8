"""streamurl: the receivers' stream URL conventions (enigma2 '#' headers, Kodi '|' headers, service
references) turned into (plain URL, headers[, name, service type]); see the module docstring."""

import dataclasses

import pytest

from streamrecorder import streamurl
from streamrecorder.errors import RecorderError
from streamrecorder.streamurl import StreamUrl, describe, is_service_reference, parse

CDN = ("https://cdn-07.example.net/live/ch1/index.m3u8"
       "?token=aB3xZ9q%2Bk%3D&expires=1735689600&sig=4f9c1e")
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"


# --- 4. plain URLs ---------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://example.com/live.m3u8",
    "https://example.com:8443/path/to/stream.ts",
    CDN,
    "http://10.0.0.2:8001/1:0:1:445D:453:1:C00000:0:0:0:",
    "https://user:pw@host.example/x.mp4?a=1&b=2",
    "HTTPS://EXAMPLE.COM/Live.m3u8",
    "http://[2001:db8::1]:8080/live.m3u8",
])
def test_plain_url_passes_unchanged(url):
    su = parse(url)
    assert su == StreamUrl(url=url)
    assert su.headers == () and su.name is None and su.service_type is None


def test_whitespace_around_is_ignored():
    assert parse("  \t%s\n" % CDN).url == CDN
    su = parse("\n http://h/x.m3u8#User-Agent=Box \r\n")
    assert su.url == "http://h/x.m3u8"
    assert su.headers == (("User-Agent", "Box"),)


# --- 1. enigma2 '#' headers ------------------------------------------------------------------

def test_enigma2_user_agent_and_referer():
    su = parse("http://h/live.m3u8#User-Agent=Box&Referer=http://x/")
    assert su.url == "http://h/live.m3u8"
    assert su.headers == (("User-Agent", "Box"), ("Referer", "http://x/"))


def test_enigma2_query_with_ampersands_and_equals_stays_in_the_url():
    su = parse(CDN + "#User-Agent=%s&Origin=https://www.example.tv" % UA)
    assert su.url == CDN
    assert su.headers == (("User-Agent", UA), ("Origin", "https://www.example.tv"))


def test_enigma2_values_are_not_url_decoded():
    # httpstream.cpp sends the value as written
    su = parse("http://h/x#User-Agent=Mozilla%2F5.0&X-Token=a%3Db+c")
    assert su.headers == (("User-Agent", "Mozilla%2F5.0"), ("X-Token", "a%3Db+c"))


def test_enigma2_value_may_hold_equals_but_ends_at_ampersand():
    su = parse("http://h/x#Cookie=sid=abc=&Referer=http://x/?a=1&b=2")
    # the value runs to the next '&': "?a=1&b=2" splits as on the box
    assert su.headers == (("Cookie", "sid=abc="), ("Referer", "http://x/?a=1"), ("b", "2"))


def test_enigma2_invalid_pair_ends_parsing_like_the_box():
    # empty value: "Invalid header format", the rest is ignored
    assert parse("http://h/x#User-Agent=Box&X-Empty=&Referer=r").headers == (("User-Agent", "Box"),)
    # no '=' left at all
    assert parse("http://h/x#User-Agent=Box&junk").headers == (("User-Agent", "Box"),)
    # a trailing '&'
    assert parse("http://h/x#User-Agent=Box&").headers == (("User-Agent", "Box"),)


def test_enigma2_segment_without_equals_joins_the_next_name():
    # enigma2 looks for the next '=': the name becomes "flag&Referer" (a valid token)
    su = parse("http://h/x#User-Agent=Box&flag&Referer=r")
    assert su.headers == (("User-Agent", "Box"), ("flag&Referer", "r"))


def test_enigma2_many_headers_keep_order_and_duplicates():
    su = parse("http://h/x#User-Agent=A&X-Forwarded-For=1.2.3.4&Accept-Language=de-DE&User-Agent=B")
    assert su.headers == (("User-Agent", "A"), ("X-Forwarded-For", "1.2.3.4"),
                          ("Accept-Language", "de-DE"), ("User-Agent", "B"))
    assert dict(su.headers)["User-Agent"] == "B"  # later duplicates win when applied


def test_enigma2_first_hash_splits_and_values_keep_later_hashes():
    su = parse("http://h/x.m3u8#Referer=https://site.example/#/live&User-Agent=Box")
    assert su.url == "http://h/x.m3u8"
    assert su.headers == (("Referer", "https://site.example/#/live"), ("User-Agent", "Box"))


def test_enigma2_value_spaces_around_are_stripped():
    su = parse("http://h/x#User-Agent= Box 1.0 &Referer=r")
    assert su.headers == (("User-Agent", "Box 1.0"), ("Referer", "r"))


@pytest.mark.parametrize("fragment", [
    "t=10", "t=10,20", "t=npt:10", "xywh=160,120,320,240", "track=audio&t=10", "id=chapter-1",
    "", "section-2", "/live/channel", "!/player?x=1", "=x", "a b=c", "Bad Name=1&User-Agent=Box",
])
def test_legitimate_fragment_is_dropped_not_sent_as_headers(fragment):
    su = parse("http://h/p.m3u8?x=1&y=2#" + fragment)
    assert su.url == "http://h/p.m3u8?x=1&y=2"
    assert su.headers == ()


def test_media_fragment_key_mixed_with_headers_counts_as_headers():
    su = parse("http://h/p.m3u8#t=10&User-Agent=Box")
    assert su.headers == (("t", "10"), ("User-Agent", "Box"))


def test_enigma2_later_name_that_is_not_a_token_is_refused():
    with pytest.raises(RecorderError, match="not a valid HTTP token"):
        parse("http://h/x#User-Agent=Box&Bad Name=1")
    with pytest.raises(RecorderError, match=r"X\(1\)"):
        parse("http://h/x#User-Agent=Box&X(1)=y")


def test_enigma2_raw_line_break_in_value_is_refused():
    with pytest.raises(RecorderError, match="User-Agent.*line break"):
        parse("http://h/x#User-Agent=Box\r\nX-Injected: 1&Referer=r")
    with pytest.raises(RecorderError, match="line break"):
        parse("http://h/x#User-Agent=Box&X-A=1\n2")


def test_enigma2_line_break_in_first_name_is_refused_not_taken_for_a_fragment():
    with pytest.raises(RecorderError, match="line break"):
        parse("http://h/x#X-Evil\r\nHost=other")


# --- 2. Kodi '|' headers ---------------------------------------------------------------------

def test_kodi_encoded_values_are_decoded():
    su = parse("http://h/live.m3u8|User-Agent=Mozilla%2F5.0&Referer=https%3A%2F%2Fx%2F")
    assert su.url == "http://h/live.m3u8"
    assert su.headers == (("User-Agent", "Mozilla/5.0"), ("Referer", "https://x/"))


def test_kodi_query_with_ampersands_and_equals_stays_in_the_url():
    su = parse(CDN + "|User-Agent=Kodi%2F20.2&Origin=https%3A%2F%2Fwww.example.tv")
    assert su.url == CDN
    assert su.headers == (("User-Agent", "Kodi/20.2"), ("Origin", "https://www.example.tv"))


def test_kodi_plus_is_a_space_and_names_are_decoded_too():
    su = parse("http://h/x|User-Agent=Mozilla%2F5.0+(X11%3B+Linux)&X%2DCustom%2DToken=a%26b%3Dc")
    assert su.headers == (("User-Agent", "Mozilla/5.0 (X11; Linux)"), ("X-Custom-Token", "a&b=c"))


def test_kodi_raw_unencoded_values_work():
    su = parse("http://h/x|User-Agent=%s&Referer=https://x.example/" % UA)
    assert su.headers == (("User-Agent", UA), ("Referer", "https://x.example/"))


def test_kodi_known_options_map_to_headers_and_curl_options_are_dropped():
    su = parse("http://h/x|verifypeer=false&seekable=0&noshout=true&connection-timeout=10"
               "&referer=https%3A%2F%2Fa%2F&user-agent=UA1&cookie=k%3Dv&encoding=gzip"
               "&accept-charset=utf-8&!Authorization=Bearer%20abc&postdata=e30%3D&auth=basic")
    assert su.url == "http://h/x"
    assert su.headers == (("Referer", "https://a/"), ("User-Agent", "UA1"), ("Cookie", "k=v"),
                          ("Accept-Encoding", "gzip"), ("Accept-Charset", "utf-8"),
                          ("Authorization", "Bearer abc"))


def test_kodi_empty_segments_empty_values_and_leading_separator():
    su = parse("http://h/x||&User-Agent=UA&&Flag&Empty=&=orphan&Referer=r&")
    assert su.headers == (("User-Agent", "UA"), ("Referer", "r"))


def test_kodi_leading_separators_are_removed_as_kodi_does():
    # CURL::SetProtocolOptions() drops one '|', CUrlOptions::AddOptions() one of "?#;|"
    assert parse("http://h/x|||User-Agent=UA").headers == (("User-Agent", "UA"),)
    assert parse("http://h/x|?User-Agent=UA").headers == (("User-Agent", "UA"),)
    assert parse("http://h/x|;User-Agent=UA").headers == (("User-Agent", "UA"),)


def test_kodi_duplicates_keep_order_later_wins():
    su = parse("http://h/x|User-Agent=A&User-Agent=B")
    assert su.headers == (("User-Agent", "A"), ("User-Agent", "B"))
    assert dict(su.headers)["User-Agent"] == "B"


def test_kodi_value_may_hold_hash_and_pipe():
    su = parse("http://h/x|Referer=https%3A%2F%2Fsite%2F%23%2Flive&X-A=a|b#c")
    assert su.url == "http://h/x"
    assert su.headers == (("Referer", "https://site/#/live"), ("X-A", "a|b#c"))


def test_kodi_and_enigma2_together_and_fragment_before_pipe():
    su = parse("http://h/x.m3u8?a=1&b=2#User-Agent=Box|Referer=https%3A%2F%2Fr%2F")
    assert su.url == "http://h/x.m3u8?a=1&b=2"
    assert su.headers == (("User-Agent", "Box"), ("Referer", "https://r/"))
    su = parse("http://h/x.m3u8#t=10|Referer=r")
    assert su.url == "http://h/x.m3u8"
    assert su.headers == (("Referer", "r"),)


@pytest.mark.parametrize("suffix, header", [
    ("|User-Agent=Box%0d%0aX-Injected:%201", "User-Agent"),
    ("|Referer=a%0Ab", "Referer"),
    ("|X-Evil%0D%0AHost=x", "X-Evil"),
    ("|X-Nul=a%00b", "X-Nul"),
    ("|referer=x%0d%0aHost:%20evil", "referer"),
])
def test_kodi_encoded_line_breaks_are_refused(suffix, header):
    with pytest.raises(RecorderError, match="line break") as info:
        parse("http://h/x.m3u8" + suffix)
    assert header in str(info.value)


def test_kodi_name_that_is_not_a_token_is_refused():
    with pytest.raises(RecorderError, match="not a valid HTTP token"):
        parse("http://h/x|X%20Custom=1")
    with pytest.raises(RecorderError, match="not a valid HTTP token"):
        parse("http://h/x|Bad:Name=1")


# --- 3. service references -------------------------------------------------------------------

@pytest.mark.parametrize("stype", [1, 4097, 5001, 5002, 8193])
def test_service_reference_types_with_name(stype):
    ref = "%d:0:1:0:0:0:0:0:0:0:http%%3a//host.example%%3a8080/live.m3u8:Das Erste HD" % stype
    assert is_service_reference(ref)
    su = parse(ref)
    assert su == StreamUrl(url="http://host.example:8080/live.m3u8", name="Das Erste HD",
                           service_type=stype)


@pytest.mark.parametrize("stype", [1, 4097, 5001, 5002])
def test_service_reference_without_name(stype):
    su = parse("%d:0:1:1A2B:3C:1:C00000:0:0:0:https%%3A//cdn.example/ch.m3u8" % stype)
    assert su.url == "https://cdn.example/ch.m3u8"
    assert su.name is None and su.service_type == stype and su.headers == ()


def test_service_reference_trailing_colon_gives_no_name():
    su = parse("4097:0:1:0:0:0:0:0:0:0:http%3a//h/x.m3u8:")
    assert su.url == "http://h/x.m3u8" and su.name is None


def test_service_reference_lower_and_upper_case_escapes():
    lower = parse("4097:0:1:0:0:0:0:0:0:0:http%3a//h%3a81/a%3ab.m3u8:N")
    upper = parse("4097:0:1:0:0:0:0:0:0:0:http%3A//h%3A81/a%3Ab.m3u8:N")
    assert lower.url == upper.url == "http://h:81/a:b.m3u8"


def test_service_reference_keeps_a_tokenised_query():
    ref = ("4097:0:1:0:0:0:0:0:0:0:https%3a//cdn.example/live/index.m3u8"
           "?token=abc&expires=1735689600&hash=x=y:Channel 1")
    su = parse(ref)
    assert su.url == "https://cdn.example/live/index.m3u8?token=abc&expires=1735689600&hash=x=y"
    assert su.name == "Channel 1"


def test_service_reference_with_enigma2_headers_in_path():
    ref = ("4097:0:1:0:0:0:0:0:0:0:http%3a//host/live.m3u8?a=1&b=2"
           "#User-Agent=Box&Referer=http%3a//site.example/:Channel name")
    su = parse(ref)
    assert su.url == "http://host/live.m3u8?a=1&b=2"
    # the path was decoded once (as eServiceReference does): %3a became ':'
    assert su.headers == (("User-Agent", "Box"), ("Referer", "http://site.example/"))
    assert su.name == "Channel name" and su.service_type == 4097


def test_service_reference_from_the_brief():
    su = parse("4097:0:1:0:0:0:0:0:0:0:http%3a//host/live.m3u8#User-Agent=Box:Channel name")
    assert su == StreamUrl(url="http://host/live.m3u8", headers=(("User-Agent", "Box"),),
                           name="Channel name", service_type=4097)


def test_service_reference_with_encoded_hash_and_user_agent():
    su = parse("5002:0:1:0:0:0:0:0:0:0:http%3a//h/x.m3u8%23User-Agent=VLC%2f3.0:N")
    assert su.url == "http://h/x.m3u8"
    assert su.headers == (("User-Agent", "VLC/3.0"),)


def test_service_reference_with_kodi_suffix():
    ref = ("5001:0:1:0:0:0:0:0:0:0:https%3a//cdn.example/a.m3u8?t=1&s=2"
           "|User-Agent=Mozilla%252F5.0&Referer=https%253A%252F%252Fr.example%252F:Kodi style")
    su = parse(ref)
    assert su.url == "https://cdn.example/a.m3u8?t=1&s=2"
    # decoded once by the reference, once by Kodi's rules
    assert su.headers == (("User-Agent", "Mozilla/5.0"), ("Referer", "https://r.example/"))
    assert su.name == "Kodi style" and su.service_type == 5001


def test_service_reference_with_a_plain_kodi_suffix():
    su = parse("4097:0:1:0:0:0:0:0:0:0:http%3a//h/x.ts|User-Agent=Box 1&verifypeer=false:Ch")
    assert su.url == "http://h/x.ts"
    assert su.headers == (("User-Agent", "Box 1"),)
    assert su.name == "Ch"


def test_service_reference_relay_url_with_colons_in_path():
    ref = ("1:0:19:283D:3FB:1:C00000:0:0:0:http%3a//192.168.1.10%3a8001/"
           "1%3a0%3a19%3a283D%3a3FB%3a1%3aC00000%3a0%3a0%3a0%3a:ZDF HD")
    su = parse(ref)
    assert su.url == "http://192.168.1.10:8001/1:0:19:283D:3FB:1:C00000:0:0:0:"
    assert su.name == "ZDF HD" and su.service_type == 1


def test_service_reference_name_may_hold_colons_and_escapes():
    su = parse("4097:0:1:0:0:0:0:0:0:0:http%3a//h/x:News: 24%3a7 %25 live")
    assert su.name == "News: 24:7 % live"


def test_service_reference_plus_is_not_a_space():
    # enigma2's urlDecode only knows %xx
    su = parse("4097:0:1:0:0:0:0:0:0:0:http%3a//h/x?sig=a+b%2Bc:N+1")
    assert su.url == "http://h/x?sig=a+b+c"
    assert su.name == "N+1"


def test_service_reference_with_unencoded_url_uses_space_before_the_name():
    su = parse("4097:0:1:0:0:0:0:0:0:0:http://host:8080/live.m3u8?a=1 My Channel")
    assert su.url == "http://host:8080/live.m3u8?a=1"
    assert su.name == "My Channel"
    su = parse("4097:0:1:0:0:0:0:0:0:0:http://host:8080/live.m3u8#User-Agent=Box")
    assert su.url == "http://host:8080/live.m3u8"
    assert su.headers == (("User-Agent", "Box"),) and su.name is None


def test_bouquet_line_and_whitespace_around_a_service_reference():
    line = "  #SERVICE 4097:0:1:0:0:0:0:0:0:0:http%3a//h/x.m3u8:Ch 1 \n"
    assert is_service_reference(line)
    su = parse(line)
    assert (su.url, su.name, su.service_type) == ("http://h/x.m3u8", "Ch 1", 4097)


@pytest.mark.parametrize("ref", [
    "4097:0:1:0:0:0:0:0:0:0:http%3a//h/x.m3u8#User-Agent=Box%0d%0aX-Injected%3a 1:Ch",
    "4097:0:1:0:0:0:0:0:0:0:http%3a//h/x.m3u8#User-Agent=Box&Referer=a%0ab:Ch",
    "5002:0:1:0:0:0:0:0:0:0:http%3a//h/x.m3u8|User-Agent=Box%250d%250aX%3a%201:Ch",
    "5001:0:1:0:0:0:0:0:0:0:http%3a//h/x.m3u8|User-Agent=Box%0d%0aX-Injected%3a 1:Ch",
])
def test_service_reference_line_breaks_are_refused(ref):
    with pytest.raises(RecorderError, match="line break"):
        parse(ref)


def test_service_reference_line_break_in_the_url_itself_is_refused():
    with pytest.raises(RecorderError, match="control character"):
        parse("4097:0:1:0:0:0:0:0:0:0:http%3a//h/x.m3u8%0d%0aHost%3a evil:Ch")


@pytest.mark.parametrize("ref", [
    "1:0:19:283D:3FB:1:C00000:0:0:0:",                       # a DVB channel: no path
    "1:0:19:283D:3FB:1:C00000:0:0:0",
    "1:0:19:283D:3FB:1:C00000:0:0:0::ZDF HD",
    "4097:0:1:0:0:0:0:0:0:0:/media/hdd/movie/rec.ts:Recording",
    "4097:0:1:0:0:0:0:0:0:0:rtmp%3a//h/app/stream:RTMP",
    "4097:0:1:0:0:0:0:0:0:0:rtsp%3a//cam.local/stream:Cam",
])
def test_service_reference_without_an_http_url_is_refused(ref):
    assert is_service_reference(ref)
    with pytest.raises(RecorderError, match=r"not an http\(s\) URL"):
        parse(ref)


@pytest.mark.parametrize("text", [
    "http://h/x.m3u8",
    "https://h/1:0:1:0:0:0:0:0:0:0:",
    "1:0:1:0:0:0:0:0",                 # too few fields
    "4097:0:1:0:0:0:0:0:0:zz:http%3a//h/x",  # not hex
    "x4097:0:1:0:0:0:0:0:0:0:http%3a//h/x",
    "",
])
def test_is_service_reference_false(text):
    assert not is_service_reference(text)


def test_is_service_reference_true():
    assert is_service_reference("4097:0:1:0:0:0:0:0:0:0:http%3a//h/x")
    assert is_service_reference("-1:0:1:ABCDEF:0:0:0:0:0:0:")
    assert is_service_reference(" 1:0:19:283D:3FB:1:C00000:0:0:0: ")


# --- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "   ", "\n", None, "#User-Agent=Box", "|User-Agent=Box"])
def test_empty_url_is_refused(text):
    with pytest.raises(RecorderError, match=r"not an http\(s\) URL"):
        parse(text)


@pytest.mark.parametrize("text", [
    "rtmp://h/app/stream",
    "ftp://h/file.ts",
    "file:///media/hdd/movie/x.ts",
    "/media/hdd/movie/x.ts",
    "rtsp://cam/stream#User-Agent=Box",
    "udp://239.0.0.1:1234|User-Agent=Box",
    "host.example/live.m3u8",
    "javascript:alert(1)",
    "http:///no-host.m3u8",
    "http://h:notaport/x",
    "http://[::1/x",
])
def test_non_http_urls_are_refused(text):
    with pytest.raises(RecorderError, match=r"not an http\(s\) URL"):
        parse(text)


def test_refusal_message_does_not_leak_the_query():
    with pytest.raises(RecorderError) as info:
        parse("rtmp://h/app?token=SECRET123")
    assert "SECRET123" not in str(info.value)
    assert "rtmp" in str(info.value)


def test_errors_are_recorder_errors_with_failure_id():
    with pytest.raises(RecorderError) as info:
        parse("http://h/x|A=%0d")
    assert info.value.error_id == "failure"


def test_control_character_in_a_plain_url_is_refused():
    with pytest.raises(RecorderError, match="control character"):
        parse("http://h/x.m3u8\r\nHost: evil")


# --- describe / repr ----------------------------------------------------------------------------

def test_describe_hides_query_user_info_and_header_values():
    su = parse("https://user:secretpw@cdn.example:8443/live/index.m3u8?token=TOK123&sig=SIG456"
               "|User-Agent=UAVALUE&Cookie=session%3DCOOKIEVAL&Authorization=Bearer%20BEARER")
    text = describe(su)
    assert text == ("https://***@cdn.example:8443/live/index.m3u8?... "
                    "[headers: User-Agent, Cookie, Authorization]")
    for secret in ("TOK123", "SIG456", "UAVALUE", "COOKIEVAL", "BEARER", "secretpw", "user"):
        assert secret not in text
    assert repr(su) == "StreamUrl(%s)" % text
    assert "COOKIEVAL" not in str(su) and "TOK123" not in str(su)


def test_describe_plain_and_service_reference():
    assert describe(parse("http://h/x.m3u8")) == "http://h/x.m3u8"
    su = parse("4097:0:1:0:0:0:0:0:0:0:http%3a//h/x.m3u8?k=v#User-Agent=Box&user-agent=B:Das Erste")
    assert describe(su) == "http://h/x.m3u8?... [headers: User-Agent] [service 4097 'Das Erste']"
    assert describe(parse("1:0:1:0:0:0:0:0:0:0:http%3a//h/x")) == "http://h/x [service 1]"


# --- the value type -----------------------------------------------------------------------------

def test_stream_url_is_a_frozen_dataclass_with_the_documented_fields():
    assert [f.name for f in dataclasses.fields(StreamUrl)] == ["url", "headers", "name",
                                                               "service_type"]
    su = StreamUrl(url="http://h/x")
    assert su.headers == () and su.name is None and su.service_type is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        su.url = "http://other/"  # type: ignore[misc]
    assert hash(parse("http://h/x#User-Agent=Box")) == hash(parse("http://h/x#User-Agent=Box"))


def test_headers_are_tuples_of_str_pairs():
    su = parse("http://h/x#User-Agent=Box|Referer=r")
    assert isinstance(su.headers, tuple)
    assert all(isinstance(h, tuple) and len(h) == 2 and all(isinstance(p, str) for p in h)
               for h in su.headers)


def test_public_names():
    assert set(streamurl.__all__) == {"StreamUrl", "parse", "is_service_reference", "describe",
                                      "loggable"}


@pytest.mark.parametrize("text, shown", [
    ("https://cdn.example/live.m3u8?token=abc#User-Agent=Box&X-Token=s3cret",
     "https://cdn.example/live.m3u8?... [headers: User-Agent, X-Token]"),
    ("https://cdn.example/live.m3u8|X-Token=s3cret", "https://cdn.example/live.m3u8 [headers: X-Token]"),
    ("https://cdn.example/live.m3u8|X-Token=a%0d%0ab", "https://cdn.example/live.m3u8"),
    ("ftp://host/x?pw=1#Secret=2", "ftp://host/x?..."),
])
def test_loggable_never_shows_a_header_value_or_token(text, shown):
    assert streamurl.loggable(text) == shown
