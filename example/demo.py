"""Deploy the example project's static files to a local S3 server, twice.

Starts moto's S3 server on 127.0.0.1, creates the bucket, runs
``manage.py collectstatic --noinput`` twice as a user would, prints both
summaries (the second copies nothing) and checks the bucket holds every file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from pathlib import Path

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

HERE = Path(__file__).resolve().parent
BUCKET = "collectfast-demo"


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {
        **os.environ,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "DEMO_BUCKET": BUCKET,
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "DJANGO_SETTINGS_MODULE": "demo_site.settings",
    }
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=BUCKET)
    print(f"Local S3 server on {endpoint}, bucket {BUCKET!r}.")
    try:
        for run in ("first deploy", "second deploy (nothing changed)"):
            print(f"\n$ python example/manage.py collectstatic --noinput   # {run}")
            result = subprocess.run(
                [sys.executable, str(HERE / "manage.py"), "collectstatic", "--noinput"],
                env=env,
                check=False,
                text=True,
                capture_output=True,
            )
            sys.stdout.write(result.stdout)
            sys.stderr.write(result.stderr)
            if result.returncode != 0:
                print(f"collectstatic exited with {result.returncode}")
                return result.returncode
        return verify(client)
    finally:
        server.stop()


def verify(client: object) -> int:
    """Every object under static/ has its local file's md5 as ETag."""
    objects: dict[str, str] = {}
    paginator = client.get_paginator("list_objects_v2")  # type: ignore[attr-defined]
    for page in paginator.paginate(Bucket=BUCKET, Prefix="static/"):
        for entry in page.get("Contents", ()):
            objects[entry["Key"].removeprefix("static/")] = entry["ETag"].strip('"')
    missing = [name for name in local_files() if name not in objects]
    differing = [
        name
        for name, md5 in local_files().items()
        if name in objects and objects[name] != md5
    ]
    if missing or differing:
        print(
            f"\nBucket differs from the tree: missing {missing}, differing {differing}"
        )
        return 1
    files = len(local_files())
    others = len(objects) - files  # collectfast's deploy record (.collectfast/)
    print(
        f"\nBucket check: all {files} static files equal their local files "
        f"(and {others} object{'s' if others != 1 else ''} of collectfast's own)."
    )
    return 0


def local_files() -> dict[str, str]:
    """Destination name -> md5 of every static file the finders would collect."""
    import django

    sys.path.insert(0, str(HERE))
    os.environ["DJANGO_SETTINGS_MODULE"] = "demo_site.settings"
    django.setup()
    from django.contrib.staticfiles.finders import get_finders

    found: dict[str, str] = {}
    for finder in get_finders():
        for path, storage in finder.list(["CVS", ".*", "*~"]):
            prefix = getattr(storage, "prefix", None)
            name = f"{prefix}/{path}" if prefix else path
            if name not in found:
                found[name] = hashlib.md5(
                    Path(storage.path(path)).read_bytes(), usedforsecurity=False
                ).hexdigest()
    return found


if __name__ == "__main__":
    sys.exit(main())
