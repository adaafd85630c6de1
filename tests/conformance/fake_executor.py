"""A scripted executor for the runner's tests: answers each request line from a JSON script.

    python fake_executor.py --transport rest --target SCRIPT.json

SCRIPT.json is a list of answers (objects without "id") given in turn; the string "garbage"
writes a line that is not JSON, and "exit" ends the process without answering. Requests are
appended to SCRIPT.json.log, one JSON line each, so tests can see what the runner sent.
"""

from __future__ import annotations

import argparse
import json
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", required=True)
    parser.add_argument("--target", required=True)
    args = parser.parse_args()
    with open(args.target, encoding="utf-8") as handle:
        answers = json.load(handle)
    for raw in sys.stdin:
        request = json.loads(raw)
        with open(args.target + ".log", "a", encoding="utf-8") as log:
            log.write(json.dumps({"transport": args.transport, **request}) + "\n")
        answer = answers.pop(0) if answers else {"failure": "script exhausted"}
        if answer == "exit":
            return 3
        if answer == "garbage":
            sys.stdout.write("this is not json\n")
        else:
            sys.stdout.write(json.dumps({"id": request["id"], **answer}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
