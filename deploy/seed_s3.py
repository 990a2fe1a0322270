"""Copy a folder into an S3 bucket (the compose `s3` profile's one-shot seed): make the bucket, upload."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import s3fs


def main(folder: str, target: str) -> int:
    bucket = target.removeprefix("s3://").split("/", 1)[0]
    store = s3fs.S3FileSystem(
        key=os.environ["GOVRAG_S3__ACCESS_KEY_ID"],
        secret=os.environ["GOVRAG_S3__SECRET_ACCESS_KEY"],
        client_kwargs={
            "endpoint_url": os.environ["GOVRAG_S3__ENDPOINT_URL"],
            "region_name": os.environ.get("GOVRAG_S3__REGION", "us-east-1"),
        },
    )
    if not store.exists(bucket):
        store.mkdir(bucket)
    root = Path(folder)
    copied = 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            store.put_file(str(path), f"{target.rstrip('/')}/{path.relative_to(root).as_posix()}")
            copied += 1
    print(f"seeded {copied} objects into {target}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] in {"-h", "--help"}:
        print("usage: seed_s3.py FOLDER s3://bucket[/prefix]")
        sys.exit(0 if len(sys.argv) > 1 and sys.argv[1] in {"-h", "--help"} else 2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
