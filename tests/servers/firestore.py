"""Google's Cloud Firestore emulator (the jar shipped by google-cloud-cli-firestore-emulator).

Started with java directly, not through the gcloud wrapper script, so that
stopping the process group stops the server. Optional: a machine without the
jar or without Java says so loudly and the Firestore tests do not run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from . import START_TIMEOUT, Started, Unavailable, free_port, launch

NAME = "firestore"
REQUIRED = False
PROJECT = "agent-datastore-test"
PACKAGE = "google-cloud-cli-firestore-emulator"
MAIN_CLASS = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"
KNOWN_JARS = [
    "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
    "/usr/share/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
]


def find_jar() -> Path | None:
    """FIRESTORE_EMULATOR_JAR, else the Debian package's file list, else the usual places."""
    candidates = [os.environ.get("FIRESTORE_EMULATOR_JAR", "")]
    try:
        listed = subprocess.run(["dpkg", "-L", PACKAGE], capture_output=True, text=True, timeout=10, check=False)
        candidates += [line for line in listed.stdout.splitlines() if line.endswith("cloud-firestore-emulator.jar")]
    except (OSError, subprocess.SubprocessError):
        pass
    candidates += KNOWN_JARS
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def start(workdir: Path) -> Started:
    java = shutil.which("java")
    if java is None:
        raise Unavailable(
            "no `java` on PATH: the Firestore emulator needs Java 11+ (apt-get install openjdk-17-jre-headless)"
        )
    jar = find_jar()
    if jar is None:
        raise Unavailable(
            f"the Firestore emulator jar is not installed (apt-get install {PACKAGE}, or set FIRESTORE_EMULATOR_JAR)"
        )
    port = free_port()
    log = workdir / "firestore-emulator.log"
    return launch(
        [java, "-Xmx1g", "-cp", str(jar), MAIN_CLASS, "--host=127.0.0.1", f"--port={port}", f"--project_id={PROJECT}"],
        log,
        {"FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{port}", "GOOGLE_CLOUD_PROJECT": PROJECT},
        f"http://127.0.0.1:{port}/",
        timeout=START_TIMEOUT,
        cwd=workdir if workdir.is_dir() else None,
    )
