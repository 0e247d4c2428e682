"""An independent oracle for atsd's cron schedules: Python's croniter.

Reads a JSON list of {"expr", "tz", "after"} on stdin and prints a JSON list
of the next occurrence of each (RFC 3339 in UTC, or null). One rule is
applied on top of croniter, because atsd deliberately differs there (README
"Scheduling"): a local time that a fall-back repeats runs once, the first
time, where croniter runs it twice. Everything else is croniter's answer.
"""
import json
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from croniter import croniter


def second_pass(t, zone):
    """Is t the later of two instants with the same local time?"""
    local = t.astimezone(zone).replace(tzinfo=None)
    first = local.replace(fold=0).replace(tzinfo=zone)
    second = local.replace(fold=1).replace(tzinfo=zone)
    if first.utcoffset() == second.utcoffset():
        return False
    # compare in UTC: Python compares two times of one zone by wall clock
    t, first, second = (x.astimezone(timezone.utc) for x in (t, first, second))
    return t == second and second > first


def next_after(expr, tz, after):
    zone = ZoneInfo(tz)
    start = datetime.fromisoformat(after.replace("Z", "+00:00")).astimezone(zone)
    it = croniter(expr, start)
    for _ in range(100):
        n = it.get_next(datetime)
        if not second_pass(n, zone):
            return n.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


cases = json.load(sys.stdin)
print(json.dumps([next_after(c["expr"], c["tz"], c["after"]) for c in cases]))
