"""A third-party Greenhouse Job Board client reads atsd's board (issue 34).

The client is ats-scrapers' GreenhouseScraper (PyPI, pinned in
tests/requirements.txt), written against boards-api.greenhouse.io. The one
thing changed is its base URL: the module's API_TEMPLATE points at atsd's
careers listener instead. Everything else (the request, the parsing of
Greenhouse's JSON, the unescaping of `content`) is the client's own.

Usage: greenhouse_client.py BASE_URL BOARD
Prints the jobs it read as a JSON list, one object per job.
"""

import json
import sys

from ats_scrapers.scrapers import greenhouse


def main() -> None:
    base, board = sys.argv[1].rstrip("/"), sys.argv[2]
    greenhouse.API_TEMPLATE = base + "/v1/boards/{slug}/jobs?content=true"
    jobs = greenhouse.GreenhouseScraper(board, timeout=10.0).fetch()
    out = [
        {
            "id": job.ats_id,
            "url": str(job.url),
            "title": job.title,
            "location": job.location,
            "department": job.department,
            "description": job.description,
            "requisition_id": job.requisition_id,
            "posted_at": job.posted_at.isoformat() if job.posted_at else None,
            "raw": job.raw,
        }
        for job in jobs
    ]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
