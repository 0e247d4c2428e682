#!/usr/bin/env python3
"""The offered slots, computed again without atsd's code: weekly windows
read with the platform's zone database (zoneinfo), busy feeds expanded by
icalendar and recurring-ical-events, and the rule atsd documents (a start
on UTC's quarter-hour grid; for every interviewer the whole interview in
one of their merged windows, and the interview widened by the buffer
meeting none of their busy times).

Reads one JSON object on stdin:
  {"from": ISO, "until": ISO, "minutes": n, "buffer": n,
   "people": [{"tz": "Europe/Berlin", "weekly": ["Mon-Fri 09:00-17:00"],
               "feed": "path.ics" | null, "booked": [[ISO, ISO], ...]}]}
Prints the slots' starts, one ISO UTC time per line.
"""
import datetime as dt
import json
import sys
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

UTC = dt.timezone.utc
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def parse_window(spec):
    days_part, times = spec.split(None, 1)
    days = set()
    for part in days_part.split(","):
        if "-" in part:
            a, b = (DAYS.index(x.strip().lower()[:3]) for x in part.split("-"))
            i = a
            while True:
                days.add(i)
                if i == b:
                    break
                i = (i + 1) % 7
        else:
            days.add(DAYS.index(part.strip().lower()[:3]))
    start, end = times.strip().split("-")
    return days, start.strip(), end.strip()


def local(day, hhmm, tz, late):
    if hhmm == "24:00":
        day, hhmm = day + dt.timedelta(days=1), "00:00"
    h, m = map(int, hhmm.split(":"))
    t = dt.datetime(day.year, day.month, day.day, h, m, tzinfo=tz, fold=1 if late else 0)
    return t.astimezone(UTC)


def merge(spans):
    out = []
    for a, b in sorted(s for s in spans if s[0] < s[1]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def windows(weekly, tz, start, until):
    first = start.astimezone(tz).date() - dt.timedelta(days=1)
    last = until.astimezone(tz).date() + dt.timedelta(days=1)
    out = []
    d = first
    while d <= last:
        for days, a, b in map(parse_window, weekly):
            if d.weekday() in days:
                s, e = local(d, a, tz, False), local(d, b, tz, True)
                if s < until and e > start:
                    out.append((s, e))
        d += dt.timedelta(days=1)
    return merge(out)


def instant(v, tz):
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=tz)
        return v.astimezone(UTC)
    return dt.datetime(v.year, v.month, v.day, tzinfo=tz).astimezone(UTC)


def busy(path, tz, start, until):
    if not path:
        return []
    with open(path, "rb") as f:
        cal = icalendar.Calendar.from_ical(f.read())
    out = []
    for e in recurring_ical_events.of(cal).between(start - dt.timedelta(days=2), until + dt.timedelta(days=2)):
        if str(e.get("TRANSP", "")).upper() == "TRANSPARENT":
            continue
        if str(e.get("STATUS", "")).upper() == "CANCELLED":
            continue
        s = instant(e["DTSTART"].dt, tz)
        if "DTEND" in e:
            end = instant(e["DTEND"].dt, tz)
        elif "DURATION" in e:
            end = s + e["DURATION"].dt
        elif not isinstance(e["DTSTART"].dt, dt.datetime):
            end = instant(e["DTSTART"].dt + dt.timedelta(days=1), tz)
        else:
            end = s
        out.append((s, end))
    return merge(out)


def main():
    q = json.load(sys.stdin)
    start = dt.datetime.fromisoformat(q["from"]).astimezone(UTC)
    until = dt.datetime.fromisoformat(q["until"]).astimezone(UTC)
    d = dt.timedelta(minutes=q["minutes"])
    buf = dt.timedelta(minutes=q["buffer"])
    panel = []
    for p in q["people"]:
        tz = ZoneInfo(p["tz"])
        b = busy(p.get("feed"), tz, start, until)
        b += [(dt.datetime.fromisoformat(x).astimezone(UTC), dt.datetime.fromisoformat(y).astimezone(UTC))
              for x, y in p.get("booked", [])]
        panel.append((windows(p["weekly"], tz, start, until), merge(b)))
    step = 15 * 60
    t = -(-int(start.timestamp()) // step) * step
    s = dt.datetime.fromtimestamp(t, UTC)
    while s + d <= until:
        if all(any(a <= s and s + d <= e for a, e in w) and not any(a < s + d + buf and s - buf < e for a, e in bz)
               for w, bz in panel):
            print(s.strftime("%Y-%m-%dT%H:%M:%SZ"))
        s += dt.timedelta(minutes=15)


if __name__ == "__main__":
    main()
