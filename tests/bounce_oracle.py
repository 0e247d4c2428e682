"""flufl.bounce, the oracle of atsd's bounce reading: for each file given,
one JSON line with the addresses flufl.bounce names as failed for good
(`permanent`) and for now (`temporary`), lower-cased, and those its RFC 3464
detector alone names (`dsn_permanent`, `dsn_temporary`): the standard
reports."""

import email
import json
import sys

from flufl.bounce import all_failures
from flufl.bounce._detectors.dsn import DSN


def main(paths):
    for path in paths:
        with open(path, "rb") as f:
            msg = email.message_from_binary_file(f)
        try:
            # (temporary, permanent), in that order
            temporary, permanent = all_failures(msg)
        except Exception as e:  # an oracle that fails says so, per file
            print(json.dumps({"file": path, "error": str(e)}))
            continue

        def text(addrs):
            return sorted(
                (a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a)).lower()
                for a in addrs
            )

        dsn_temporary, dsn_permanent = DSN().process(msg)
        print(json.dumps({
            "file": path,
            "permanent": text(permanent),
            "temporary": text(temporary),
            "dsn_permanent": text(dsn_permanent),
            "dsn_temporary": text(dsn_temporary),
        }))


if __name__ == "__main__":
    main(sys.argv[1:])
