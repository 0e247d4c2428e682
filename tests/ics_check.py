"""Reads every iCalendar object of the emails given (.eml files) with two
independent parsers, Python's `icalendar` and `vobject`, and prints one JSON
line per email with what both found, for tests/it/interviews.rs to assert.

    python tests/ics_check.py MESSAGE.eml...
    python tests/ics_check.py --zoneinfo LOCAL ZONE [TO_ZONE]

The second form is the time-zone oracle: LOCAL (2030-03-30T10:00) read in
ZONE with Python's zoneinfo, printed as UTC, and in TO_ZONE as the
`HH:MM ABBR` an email shows.

Per email: the MIME `method` of the text/calendar part and the METHOD inside,
whether the invite.ics attachment is the same object, the raw checks (CRLF
line ends only, the longest line in octets, every TZID with its VTIMEZONE),
and from each parser: UID, SEQUENCE, DTSTAMP/DTSTART/DTEND (as UTC ISO
strings, with whether they were UTC), STATUS, SUMMARY, LOCATION, and the
attendees' CN and address. Exits 1 if a parser fails on an object.
"""

import email
import email.policy
import json
import re
import sys
from datetime import timezone

import icalendar
import vobject


def utc(dt):
    if dt is None:
        return None
    if getattr(dt, "tzinfo", None) is None:
        return {"iso": dt.isoformat(), "utc": False}
    return {
        "iso": dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "utc": dt.utcoffset().total_seconds() == 0,
    }


def with_icalendar(raw):
    cal = icalendar.Calendar.from_ical(raw)
    ev = [c for c in cal.walk("VEVENT")][0]
    attendees = ev.get("ATTENDEE")
    if attendees is None:
        attendees = []
    elif not isinstance(attendees, list):
        attendees = [attendees]
    return {
        "method": str(cal.get("METHOD")),
        "version": str(cal.get("VERSION")),
        "prodid": str(cal.get("PRODID")),
        "uid": str(ev.get("UID")),
        "sequence": int(ev.get("SEQUENCE", 0)),
        "dtstamp": utc(ev.decoded("DTSTAMP")),
        "dtstart": utc(ev.decoded("DTSTART")),
        "dtend": utc(ev.decoded("DTEND")),
        "status": str(ev.get("STATUS")),
        "summary": str(ev.get("SUMMARY")),
        "location": str(ev.get("LOCATION")) if ev.get("LOCATION") is not None else None,
        "organizer": str(ev.get("ORGANIZER")),
        "attendees": [
            {
                "cn": str(a.params.get("CN")),
                "address": str(a),
                "role": str(a.params.get("ROLE")),
                "rsvp": str(a.params.get("RSVP")),
                "partstat": str(a.params.get("PARTSTAT")),
            }
            for a in attendees
        ],
        "events": len(cal.walk("VEVENT")),
    }


def with_vobject(raw):
    cal = vobject.readOne(raw)
    ev = cal.vevent
    attendees = ev.contents.get("attendee", [])
    loc = ev.contents.get("location")
    return {
        "method": cal.method.value,
        "uid": ev.uid.value,
        "sequence": int(ev.sequence.value),
        "dtstamp": utc(ev.dtstamp.value),
        "dtstart": utc(ev.dtstart.value),
        "dtend": utc(ev.dtend.value),
        "status": ev.status.value,
        "summary": ev.summary.value,
        "location": loc[0].value if loc else None,
        "attendees": [a.value for a in attendees],
        "events": len(cal.contents.get("vevent", [])),
    }


def check(path):
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    out = {"file": path, "message_id": msg["Message-ID"], "to": msg["To"]}
    parts = list(msg.walk())
    cals = [p for p in parts if p.get_content_type() == "text/calendar"]
    files = [p for p in parts if p.get_filename() == "invite.ics"]
    out["content_type"] = msg.get_content_type()
    out["calendar_parts"] = len(cals)
    out["attachments"] = len(files)
    if not cals:
        return out
    part = cals[0]
    raw = part.get_payload(decode=True)
    out["mime_method"] = part.get_param("method")
    out["mime_charset"] = part.get_param("charset")
    if files:
        out["attachment_same"] = files[0].get_payload(decode=True) == raw
    text = raw.decode("utf-8")
    out["crlf_only"] = "\n" not in text.replace("\r\n", "")
    out["max_octets"] = max(len(l.encode("utf-8")) for l in text.split("\r\n"))
    tzids = set(re.findall(r";TZID=([^:;]+)", text.replace("\r\n ", "")))
    vtz = set(re.findall(r"\r\nTZID:([^\r]+)", text))
    out["tzids_without_vtimezone"] = sorted(tzids - vtz)
    out["icalendar"] = with_icalendar(raw)
    out["vobject"] = with_vobject(text)
    return out


def zoneinfo_mode(local, zone, to_zone=None):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    t = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone))
    out = {"utc": t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if to_zone:
        out["local"] = t.astimezone(ZoneInfo(to_zone)).strftime("%H:%M %Z")
    print(json.dumps(out))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--zoneinfo":
        zoneinfo_mode(*sys.argv[2:])
        return
    failed = False
    for path in sys.argv[1:]:
        try:
            print(json.dumps(check(path), ensure_ascii=False), flush=True)
        except Exception as e:  # a parser refused the object: say which
            failed = True
            print(json.dumps({"file": path, "error": f"{type(e).__name__}: {e}"}), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
