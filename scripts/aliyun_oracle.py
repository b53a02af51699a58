#!/usr/bin/env python3
"""Signs Alibaba Cloud request descriptions with the official SDK, for Herald's cross-check.

Reads a JSON array on stdin; each item is either
  {"kind": "v1", "method": "POST", "params": {name: value, ...}, "secret": "..."}
    -> {"signature": Utils.get_rpcsignature(params, method, secret)}
  {"kind": "v3", "method": "POST", "pathname": "/", "query": {...}, "headers": {...},
   "payload_hash": "<hex sha256 of the body>", "access_key_id": "...", "secret": "..."}
    -> {"authorization": Utils.get_authorization(request, "ACS3-HMAC-SHA256", ...)}
and prints the JSON array of results on stdout, in order.

Uses PyPI `alibabacloud-tea-openapi` (alibabacloud_tea_openapi/utils.py), the signing code of
every official Python SDK (alibabacloud-dysmsapi20170525 included).
Exit status 2 when that package is not installed (the Rust test then skips unless CI=true).
"""

import json
import sys
from types import SimpleNamespace

try:
    from alibabacloud_tea_openapi.utils import Utils
except ImportError as error:  # pragma: no cover - depends on the environment
    print(f"alibabacloud-tea-openapi is not installed: {error}", file=sys.stderr)
    sys.exit(2)


def sign(item):
    if item["kind"] == "v1":
        return {"signature": Utils.get_rpcsignature(item["params"], item["method"], item["secret"])}
    if item["kind"] == "v3":
        request = SimpleNamespace(
            method=item["method"],
            pathname=item.get("pathname", "/"),
            query=item["query"],
            headers=item["headers"],
        )
        authorization = Utils.get_authorization(
            request,
            "ACS3-HMAC-SHA256",
            item["payload_hash"],
            item["access_key_id"],
            item["secret"],
        )
        return {"authorization": authorization}
    raise ValueError(f"unknown kind {item['kind']!r}")


def main():
    items = json.load(sys.stdin)
    json.dump([sign(item) for item in items], sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
