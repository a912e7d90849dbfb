#!/usr/bin/env python3
"""Plays each playlist of a directory with hls-swarm and checks what it requested.

For every `*.m3u8`/`*.m3u` in DIR (with an optional `SOURCES.tsv` whose `expect` column says `play`,
`either`, `broken` or `noplay`), this script:

1. serves it on 127.0.0.1 (absolute http(s):// and scheme-relative //host URIs rewritten to the same
   loopback server, so no request leaves the machine), with plausible bodies for every other path: a
   short VOD media playlist for a child playlist it does not have, TS packets for media, 16 bytes for a
   key, an `ftyp` box for an init section; `Range` is honoured (206 with Content-Range);
2. runs `hls-swarm run URL --clients 1` for a few seconds and keeps the server's request log;
3. reads the playlist with its own small reader (independent of hls-swarm's parser) and checks what a
   correct player requests: a variant (never an I-frame playlist), the DEFAULT audio rendition of its
   group, each EXT-X-MAP init section and each key before the segments that need them, byte ranges as
   `Range` headers, no EXT-X-GAP segment, no `{$var}` left in a URI, a live start near the live edge, a
   paced replay of a VOD, and parts for LL-HLS.

It prints one line per playlist and a total. Not part of `cargo test`: the playlists are other projects'
test data, read from where they are and never copied into the repository.

Usage: scripts/conformance.py DIR [--seconds 4] [--jobs 2] [--only NAME] [--bin PATH] [--verbose]
"""

import argparse
import concurrent.futures
import csv
import http.server
import json
import os
import re
import socketserver
import subprocess
import sys
import tempfile
import threading
import urllib.parse

MEDIA_EXT = (".ts", ".aac", ".mp4", ".m4s", ".m4a", ".m4v", ".mp3", ".ac3", ".ec3", ".cmfv", ".cmfa", ".vtt", ".webvtt")
PLAYLIST_EXT = (".m3u8", ".m3u")
UNRANGED_BODY = 188 * 100  # a whole media resource when no Range is asked


# ---------------------------------------------------------------- the playlist reader (independent)

def attrs(text):
    """EXT-X attribute list -> dict (quoted values unquoted)."""
    out = {}
    for m in re.finditer(r'([A-Z0-9-]+)\s*=\s*("[^"]*"|[^,]*)', text):
        v = m.group(2).strip()
        out[m.group(1)] = v[1:-1] if v.startswith('"') else v
    return out


def norm(url):
    """A URL as compared here: fragment dropped, percent-encoding undone (the swarm encodes spaces)."""
    parts = urllib.parse.urlsplit(urllib.parse.urldefrag(url)[0])
    return urllib.parse.unquote(parts._replace(path=parts.path or "/").geturl())


def join(base, uri):
    return norm(urllib.parse.urljoin(base, uri.strip()))


def substitute(text, defs):
    return re.sub(r"\{\$([A-Za-z0-9_-]+)\}", lambda m: defs.get(m.group(1), m.group(0)), text)


def read_playlist(text, url, imported=None):
    """A playlist as the checks need it: master (variants, renditions, i-frame URIs) or media."""
    text = text.lstrip("\ufeff")
    lines = [l.strip() for l in text.replace("\r\n", "\n").split("\n")]
    defs = {}
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    p = {"master": False, "variants": [], "media": [], "iframes": [], "segments": [], "parts": [],
         "ended": False, "target": None, "defs": defs, "llhls": False, "hints": []}
    pending = {}
    key = None
    key_method = None
    mapping = None
    last_end = {}
    expect_variant = None
    for line in lines:
        if not line:
            continue
        if line.startswith("#"):
            tag, _, value = line.partition(":")
            if tag == "#EXT-X-DEFINE":
                a = attrs(value)
                if "NAME" in a:
                    defs[a["NAME"]] = a.get("VALUE", "")
                elif "IMPORT" in a and imported:
                    defs[a["IMPORT"]] = imported.get(a["IMPORT"], "")
                elif "QUERYPARAM" in a:
                    defs[a["QUERYPARAM"]] = query.get(a["QUERYPARAM"], "")
                continue
            value = substitute(value, defs)
            a = attrs(value)
            if tag == "#EXT-X-STREAM-INF":
                p["master"] = True
                expect_variant = a
            elif tag == "#EXT-X-I-FRAME-STREAM-INF":
                p["master"] = True
                if "URI" in a:
                    p["iframes"].append(join(url, a["URI"]))
            elif tag == "#EXT-X-MEDIA":
                p["master"] = True
                if "URI" in a:
                    a["URL"] = join(url, a["URI"])
                p["media"].append(a)
            elif tag == "#EXT-X-TARGETDURATION":
                try:
                    p["target"] = float(value)
                except ValueError:
                    pass
            elif tag == "#EXTINF":
                try:
                    pending["extinf"] = float(value.split(",")[0])
                except ValueError:
                    pending["extinf"] = 0.0
            elif tag == "#EXT-X-BYTERANGE":
                pending["range"] = value
            elif tag == "#EXT-X-GAP":
                pending["gap"] = True
            elif tag == "#EXT-X-KEY":
                key_method = a.get("METHOD", "NONE")
                uri = a.get("URI")
                fmt = a.get("KEYFORMAT", "identity")
                usable = key_method != "NONE" and uri and fmt == "identity" and not uri.startswith(("data:", "skd:"))
                key = join(url, uri) if usable else None
            elif tag == "#EXT-X-MAP":
                mapping = (join(url, a["URI"]), byterange(a.get("BYTERANGE"), None)) if "URI" in a else None
            elif tag == "#EXT-X-PART-INF":
                p["llhls"] = True
            elif tag == "#EXT-X-PART" and "URI" in a:
                p["parts"].append(join(url, a["URI"]))
                pending.setdefault("parts", []).append(join(url, a["URI"]))
            elif tag == "#EXT-X-PRELOAD-HINT" and "URI" in a:
                p["hints"].append(join(url, a["URI"]))
            elif tag == "#EXT-X-ENDLIST" or (tag == "#EXT-X-PLAYLIST-TYPE" and value.strip() == "VOD"):
                p["ended"] = True
            continue
        uri = substitute(line, defs)
        if expect_variant is not None:
            p["variants"].append({"url": join(url, uri), **expect_variant})
            expect_variant = None
            continue
        if p["master"]:
            continue  # a stray URI line in a multivariant playlist
        full = join(url, uri)
        rng = None
        if "range" in pending:
            rng = byterange(pending["range"], last_end.get(full, 0))
            if rng:
                last_end[full] = rng[0] + rng[1]
        p["segments"].append({"url": full, "range": rng, "gap": pending.get("gap", False),
                              "key_len": 32 if (key_method or "").startswith("AES-256") else 16,
                              "duration": pending.get("extinf", 0.0),
                              "key": key, "map": mapping, "parts": pending.get("parts", [])})
        pending = {}
    # Parts after the last segment: the segment being written, under the map and key in force.
    if pending.get("parts"):
        p["segments"].append({"url": None, "range": None, "gap": False, "key_len": 16, "duration": 0.0,
                              "key": key, "map": mapping, "parts": pending["parts"], "pending": True})
    return p


def byterange(text, carried):
    """`n[@o]` -> (offset, length); the offset carried over when absent (RFC 8216 4.3.2.2)."""
    if not text:
        return None
    n, _, o = text.partition("@")
    try:
        length = int(n)
        offset = int(o) if o.strip() else (carried or 0)
    except ValueError:
        return None
    return (offset, length)


# ---------------------------------------------------------------- the server

class Site:
    """What one playlist's server serves, and what it was asked."""

    def __init__(self, directory, name):
        self.directory = directory
        self.name = name
        self.port = None
        self.log = []  # (path with query, range header or None, status)
        self.lock = threading.Lock()
        self.keys = {}  # paths of the key URIs the playlist names, and their key sizes

    def start(self, port):
        self.port = port
        with open(os.path.join(self.directory, self.name), encoding="utf-8", errors="replace", newline="") as f:
            text = self.rewrite(f.read())
        playlist = read_playlist(text, f"http://127.0.0.1:{port}/{self.name}")
        self.keys = {urllib.parse.urlsplit(s["key"]).path or "/": s["key_len"] for s in playlist["segments"] if s["key"]}

    def rewrite(self, text):
        base = f"http://127.0.0.1:{self.port}"
        text = re.sub(r"https?://[^/\s\"',]+", base, text)
        return re.sub(r'(?m)(^|URI=")//[^/\s"]+', lambda m: m.group(1) + base, text)


def handler_for(site):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            path = urllib.parse.urlsplit(self.path).path
            rng = self.headers.get("Range")
            status, body, extra = self.answer(path, rng)
            with site.lock:
                site.log.append((self.path, rng, status))
            self.send_response(status)
            for k, v in extra:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def answer(self, path, rng):
            local = os.path.join(site.directory, os.path.basename(urllib.parse.unquote(path)))
            if path == "/" + site.name and os.path.isfile(local):
                with open(local, encoding="utf-8", errors="replace", newline="") as f:
                    return 200, site.rewrite(f.read()).encode(), [("Content-Type", "application/vnd.apple.mpegurl")]
            if path.endswith(PLAYLIST_EXT):
                return 200, CHILD_PLAYLIST, [("Content-Type", "application/vnd.apple.mpegurl")]
            if urllib.parse.unquote(path) in site.keys:
                return 200, bytes(range(site.keys[urllib.parse.unquote(path)])), []
            body = media_body(path)
            if rng:
                m = re.fullmatch(r"bytes=(\d+)-(\d+)", rng.strip())
                if not m or int(m.group(2)) < int(m.group(1)):
                    return 416, b"", []
                a, b = int(m.group(1)), int(m.group(2))
                return 206, (body * ((b - a) // len(body) + 2))[: b - a + 1], [("Content-Range", f"bytes {a}-{b}/*")]
            return 200, body, []

    return Handler


CHILD_PLAYLIST = b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n" + b"".join(
    b"#EXTINF:2.0,\nchild%d.ts\n" % i for i in range(3)) + b"#EXT-X-ENDLIST\n"


def media_body(path):
    if path.endswith((".mp4", ".m4s", ".cmfv", ".cmfa", ".m4a", ".m4v")):
        return b"\x00\x00\x00\x18ftypiso6\x00\x00\x00\x00iso6cmfc" + b"\x00" * (UNRANGED_BODY - 24)
    return (b"\x47" + b"\x1f\xff\x10" + b"\xff" * 184) * (UNRANGED_BODY // 188)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


# ---------------------------------------------------------------- one playlist

def play(bin_path, directory, name, seconds):
    site = Site(directory, name)
    server = Server(("127.0.0.1", 0), handler_for(site))
    site.start(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{site.port}/{name}"
    with tempfile.TemporaryDirectory() as tmp:
        report_path = os.path.join(tmp, "r.json")
        cmd = [bin_path, "run", url, "--clients", "1", "--duration", f"{seconds}s", "--no-tui",
               "--metrics-addr", "none", "--timeout", "3s", "--report", report_path]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
            code, err = proc.returncode, proc.stderr
        except subprocess.TimeoutExpired as e:
            code, err = "hang", str(e)
        report = None
        if os.path.exists(report_path):
            with open(report_path) as f:
                report = json.load(f)
    server.shutdown()
    server.server_close()
    with open(os.path.join(directory, name), encoding="utf-8", errors="replace", newline="") as f:
        text = site.rewrite(f.read())
    return Outcome(name, url, text, site.log, code, err, report, site.port)


class Outcome:
    def __init__(self, name, url, text, log, code, err, report, port):
        self.name, self.url, self.text, self.log = name, url, text, log
        self.code, self.err, self.report, self.port = code, err, report, port

    def requested(self):
        return [norm(f"http://127.0.0.1:{self.port}{p}") for p, _, _ in self.log]

    def ranges(self):
        return [(norm(f"http://127.0.0.1:{self.port}{p}"), r) for p, r, _ in self.log]

    def errors(self):
        if not self.report:
            return {}
        return {k: v for k, v in self.report.get("errors", {}).items() if isinstance(v, int) and v}


# ---------------------------------------------------------------- the checks

def check(o, expect):
    """Reasons this run is not what a correct player does; empty when it is."""
    if o.code == "hang":
        return ["hls-swarm did not end"]
    if "panicked" in o.err:
        return ["panicked: " + o.err.strip().splitlines()[-1]]
    rejected = o.code == 1 or (o.errors().get("playlist_parse", 0) > 0 and not media_requests(o))
    if expect == "broken":
        return [] if rejected or o.errors().get("playlist_parse") else ["a broken playlist was not reported"]
    if expect == "either" and rejected:
        return [] if o.err.strip() or o.errors() else ["rejected without a message"]
    if expect == "noplay":
        reasons = []
        if o.errors().get("playlist_parse"):
            reasons.append("an empty live playlist counted as a parse error")
        if sum(1 for u in o.requested() if u == norm(o.url)) < 2:
            reasons.append("an empty live playlist was not reloaded")
        return reasons
    if o.code != 0:
        return [f"exit {o.code}: " + (o.err.strip().splitlines() or [""])[-1]]
    return check_play(o)


def media_requests(o):
    return [u for u in o.requested() if not u.split("?")[0].endswith(PLAYLIST_EXT)]


def check_play(o):
    p = read_playlist(o.text, o.url)
    reasons = []
    requested = o.requested()
    if any("{$" in urllib.parse.unquote(u) for u in requested):
        reasons.append("requested a URI with an undefined {$variable}")
    if p["master"]:
        variants = [v for v in p["variants"] if v["url"] in requested]
        if not variants:
            return reasons + ["no variant playlist requested"]
        if any(u in requested for u in p["iframes"]):
            reasons.append("requested an I-frame playlist")
        group = variants[0].get("AUDIO")
        renditions = [m for m in p["media"] if m.get("TYPE") == "AUDIO" and m.get("GROUP-ID") == group]
        chosen = next((m for m in renditions if m.get("DEFAULT") == "YES"), None) or \
            next((m for m in renditions if m.get("AUTOSELECT") == "YES"), None) or \
            (renditions[0] if renditions else None)
        if chosen and chosen.get("URL") and chosen["URL"] not in requested:
            reasons.append(f"audio rendition {chosen.get('NAME', '?')} not played")
        if not any(u.endswith(".ts") and "child" in u for u in requested):
            reasons.append("no segment of the variant requested")
        return reasons
    return reasons + check_media(o, p)


def without_directives(url):
    """`url` less the LL-HLS delivery directives (`_HLS_msn`, `_HLS_part`, `_HLS_skip`) in its query:
    a blocking or delta reload of a playlist is a request for that playlist."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("_HLS_")]
    return parts._replace(query=urllib.parse.urlencode(query)).geturl()


def segment_range(s):
    """The Range header a segment is asked with, None for a whole resource."""
    if not s["range"]:
        return None
    offset, length = s["range"]
    return f"bytes={offset}-{offset + length - 1}"


def segments_played(segments, ranges):
    """The segments requested: each request (URI and Range) matched to a segment of the playlist. A
    playlist may name one resource (or range) for several segments; a live viewer plays the end of the
    playlist, so the requests of a key go to its last segments."""
    left = {}
    for u, r in ranges:
        left[(u, r)] = left.get((u, r), 0) + 1
    parts = {u for u, _ in ranges}
    played = []
    for s in reversed(segments):
        key = (s["url"], segment_range(s))
        if left.get(key, 0) > 0:
            left[key] -= 1
            played.append(s)
        elif any(u in parts for u in s.get("parts", [])):
            played.append(s)  # LL-HLS: played by its parts
    played.reverse()
    return played


def check_media(o, p):
    reasons = []
    ranges = o.ranges()
    played = segments_played(p["segments"], ranges)
    if not p["segments"]:
        return ["no segment in the playlist (reader)"]
    if not played:
        return ["no segment requested"]
    for s in p["segments"]:
        if s["gap"] and any(u == s["url"] for u, _ in ranges):
            reasons.append(f"requested the EXT-X-GAP segment {s['url'].rsplit('/', 1)[-1]}")
    named = {s["url"] for s in p["segments"]} | {s["map"][0] for s in p["segments"] if s["map"]} | \
        {s["key"] for s in p["segments"] if s["key"]} | set(p["parts"]) | set(p["hints"]) | {norm(o.url)}
    stray = [u for u, _ in ranges if u not in named and without_directives(u) not in named]
    if stray:
        reasons.append(f"requested what the playlist does not name: {stray[0]}")
    # A resource the playlist cuts into byte ranges is only ever asked for by one of its ranges.
    # (A resource the playlist also names whole may be asked for whole.)
    wanted = {}
    for s in p["segments"]:
        if s["range"]:
            wanted.setdefault(s["url"], set()).add(segment_range(s))
    for s in p["segments"]:
        if not s["range"] and s["url"] in wanted:
            wanted[s["url"]].add(None)
        if s["map"] and s["map"][1]:
            offset, length = s["map"][1]
            wanted.setdefault(s["map"][0], set()).add(f"bytes={offset}-{offset + length - 1}")
    for u, r in ranges:
        if u in wanted and r not in wanted[u]:
            name = u.rsplit('/', 1)[-1]
            reasons.append(f"{name} asked {'with Range: ' + r if r else 'whole'}, not by one of its byte ranges")
            break
    maps = {s["map"] for s in played if s["map"]}
    for uri, rng in maps:
        want = f"bytes={rng[0]}-{rng[0] + rng[1] - 1}" if rng else None
        if not any(u == uri and r == want for u, r in ranges):
            reasons.append(f"init section {uri.rsplit('/', 1)[-1]} {want or ''} not requested".replace("  ", " "))
    keys = {s["key"] for s in played if s["key"]}
    for k in keys:
        if k not in o.requested():
            reasons.append(f"key {k.rsplit('/', 1)[-1]} not requested")
    if not p["ended"] and p["target"]:
        # RFC 8216 6.3.3: start no later than three target durations from the end; allow one more.
        ids = {id(s) for s in played}
        first = next(i for i, s in enumerate(p["segments"]) if id(s) in ids)
        ahead = sum(s["duration"] for s in p["segments"][first:])
        if ahead > 4 * p["target"] and first < len(p["segments"]) - 4:
            reasons.append(f"live start at segment {first} of {len(p['segments'])}, not near the live edge")
    if p["llhls"] and p["parts"] and not any(u in o.requested() for u in p["parts"] + p["hints"]):
        reasons.append("LL-HLS: no part requested")
    if p["ended"] and o.report:
        seconds = max(1, len(o.report.get("timeline", [])) or 1)
        reloads = sum(1 for u in o.requested() if u == norm(o.url))
        if reloads > 2 * seconds + 2:
            reasons.append(f"VOD replayed {reloads} times in {seconds} s: not paced")
    return reasons


# ---------------------------------------------------------------- main

def expectations(directory):
    path = os.path.join(directory, "SOURCES.tsv")
    if not os.path.exists(path):
        return {}
    with open(path, newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f, delimiter="\t")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", help="a file name, or a substring of file names")
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release/hls-swarm"))
    ap.add_argument("--verbose", action="store_true", help="print each playlist's requests")
    args = ap.parse_args()
    rows = expectations(args.dir)
    names = sorted(n for n in os.listdir(args.dir) if n.endswith(PLAYLIST_EXT))
    if args.only:
        names = [n for n in names if args.only in n]
    if not names:
        sys.exit(f"no playlist in {args.dir}")
    results = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        runs = {pool.submit(play, args.bin, args.dir, n, args.seconds): n for n in names}
        for fut in concurrent.futures.as_completed(runs):
            o = fut.result()
            row = rows.get(o.name, {})
            expect = row.get("expect", "play")
            reasons = check(o, expect)
            results.append((o.name, expect, reasons))
            mark = "ok  " if not reasons else "FAIL"
            print(f"{mark} {o.name} [{expect}] {'; '.join(reasons)}".rstrip(), flush=True)
            if args.verbose:
                for path, rng, status in o.log:
                    print(f"       {status} {path} {rng or ''}")
    failed = [r for r in results if r[2]]
    print(f"conformance: {len(results) - len(failed)} of {len(results)} behave as a player does")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
