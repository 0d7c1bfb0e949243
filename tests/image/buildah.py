"""buildah for the image tests: a private vfs store under .tools/image, the stand-in for the
official Python base image, and the build of the repository's Dockerfile.

Docker is not available on our machines (nor is `docker.io` reachable), but Debian's buildah
builds a Dockerfile without a daemon (`--isolation chroot`, vfs storage) and runs commands in
the result. `python:3.11-slim-bookworm` cannot be pulled, so `ensure_standin_base` makes a
stand-in from Debian bookworm (which ships Python 3.11) with mmdebstrap and hands it to the
Dockerfile through its `PYTHON_IMAGE` build-arg. Both tools are installed by
tools/install-buildah.sh when missing; nothing here skips.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".tools" / "image"
INSTALLER = REPO / "tools" / "install-buildah.sh"

# The machine's CA bundle: package registries may sit behind a proxy with its own CA, and the
# build stage downloads uv and the locked wheels.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
STANDIN_REPOSITORY = "localhost/myhealth-python-standin"
STANDIN_PACKAGES = (
    "python3",
    "python3-venv",
    "python3-pip",
    "python-is-python3",
    "ca-certificates",
)
# mmdebstrap hooks run on the host with the new root as $1. Debian marks its Python as
# externally managed (PEP 668); the official image does not, and the Dockerfile pip-installs uv.
STANDIN_HOOKS = (
    'rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',
    f'cp {HOST_CA_BUNDLE} "$1"/etc/ssl/certs/ca-certificates.crt',
)
# LANG as the official image sets it; the rest point pip and uv at the CA bundle.
STANDIN_ENV = {
    "LANG": "C.UTF-8",
    "SSL_CERT_FILE": str(HOST_CA_BUNDLE),
    "PIP_CERT": str(HOST_CA_BUNDLE),
    "UV_SYSTEM_CERTS": "1",
}


class ImageToolError(RuntimeError):
    """A buildah/mmdebstrap step failed; the message has the command and its output's tail."""


@dataclass(frozen=True)
class BuiltImage:
    image_id: str
    base: str
    build_seconds: float
    size_bytes: int
    base_size_bytes: int

    @property
    def added_bytes(self) -> int:
        """What the Dockerfile adds on top of the base (the venv and the user)."""
        return self.size_bytes - self.base_size_bytes


@dataclass(frozen=True)
class ImageConfig:
    user: str
    env: tuple[str, ...]
    entrypoint: tuple[str, ...]


_UNITS = {"B": 1, "kB": 1_000, "KB": 1_000, "MB": 1_000_000, "GB": 1_000_000_000}


def _bytes(human: str) -> int:
    """`buildah images` sizes are decimal and human: "297 MB"."""
    number, unit = human.split()
    return round(float(number) * _UNITS[unit])


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_tool(argv: Sequence[str], timeout: float = 1200) -> str:
    result = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise ImageToolError(
            f"{' '.join(argv[:6])} ... exited {result.returncode}:\n"
            f"{_tail(result.stdout)}\n{_tail(result.stderr)}"
        )
    return result.stdout


def ensure_tools() -> None:
    """buildah and mmdebstrap on PATH, installed from apt when missing (never a skip)."""
    if shutil.which("buildah") and shutil.which("mmdebstrap"):
        return
    run_tool(["bash", str(INSTALLER)])
    if not shutil.which("buildah") or not shutil.which("mmdebstrap"):
        raise ImageToolError(f"{INSTALLER.name} ran but buildah/mmdebstrap are still missing")


@contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """Serialises work on the shared store across pytest workers and checkouts."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Buildah:
    """The buildah CLI bound to one vfs store (no daemon, no machine-wide state)."""

    home: Path = CACHE

    def argv(self, *args: str) -> list[str]:
        return [
            "buildah",
            "--root", str(self.home / "storage"),
            "--runroot", str(self.home / "run"),
            "--storage-driver", "vfs",
            *args,
        ]  # fmt: skip

    def __call__(self, *args: str, timeout: float = 1200) -> str:
        return run_tool(self.argv(*args), timeout=timeout)

    def run_in(
        self, container: str, *command: str, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`buildah run` as the image's user with its ENV plus `env`. Chroot isolation shares
        the host's network: 127.0.0.1 in the container is the host's."""
        env_flags = [flag for k, v in (env or {}).items() for flag in ("--env", f"{k}={v}")]
        return subprocess.run(
            self.argv("run", "--isolation", "chroot", *env_flags, container, "--", *command),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def exists(self, image: str) -> bool:
        result = subprocess.run(
            self.argv("inspect", "--type", "image", image), capture_output=True, check=False
        )
        return result.returncode == 0

    def size(self, image: str) -> int:
        """Uncompressed size in bytes (to `buildah images`' three significant digits)."""
        for entry in json.loads(self("images", "--json")):
            if image.startswith(entry["id"]) or image in (entry.get("names") or []):
                return _bytes(entry["size"])
        raise ImageToolError(f"{image} is not in the store")

    def config(self, image: str) -> ImageConfig:
        config = json.loads(self("inspect", "--type", "image", image))["OCIv1"]["config"]
        return ImageConfig(
            user=config.get("User", ""),
            env=tuple(config.get("Env") or ()),
            entrypoint=tuple(config.get("Entrypoint") or ()),
        )


def standin_tag() -> str:
    """Changes with the recipe, the CA bundle and the month (so Debian updates arrive)."""
    recipe = json.dumps(
        {
            "suite": "bookworm",
            "packages": STANDIN_PACKAGES,
            "hooks": STANDIN_HOOKS,
            "env": STANDIN_ENV,
            "month": dt.datetime.now(dt.UTC).strftime("%Y-%m"),
        },
        sort_keys=True,
    ).encode()
    digest = hashlib.sha256(recipe + HOST_CA_BUNDLE.read_bytes())
    return digest.hexdigest()[:16]


def ensure_standin_base(buildah: Buildah) -> str:
    """The stand-in base image's reference, built (~2 min) only when its tag is new."""
    reference = f"{STANDIN_REPOSITORY}:{standin_tag()}"
    with cache_lock("standin"):
        if buildah.exists(reference):
            return reference
        with tempfile.TemporaryDirectory(prefix="myhealth-standin-") as work:
            tarball = Path(work) / "rootfs.tar"
            run_tool(
                [
                    "mmdebstrap",
                    "--variant=minbase",
                    f"--include={','.join(STANDIN_PACKAGES)}",
                    *(f"--customize-hook={hook}" for hook in STANDIN_HOOKS),
                    "bookworm",
                    str(tarball),
                ]
            )
            container = buildah("from", "scratch").strip()
            try:
                buildah("add", container, str(tarball), "/")
                env_flags = [flag for k, v in STANDIN_ENV.items() for flag in ("--env", f"{k}={v}")]
                buildah("config", *env_flags, "--cmd", "python3", container)
                buildah("commit", "--quiet", container, reference)
            finally:
                buildah("rm", container)
        for old in buildah("images", "--noheading", "--format", "{{.Name}}:{{.Tag}}").split():
            if old.startswith(f"{STANDIN_REPOSITORY}:") and old != reference:
                # Best effort: a concurrent session may still be building on the old one.
                subprocess.run(buildah.argv("rmi", old), capture_output=True, check=False)
        return reference


def remove_stale_images(buildah: Buildah, older_than: dt.timedelta = dt.timedelta(hours=6)) -> None:
    """Images (and their containers) a killed session did not remove; the stand-in stays.

    Each session removes its own image; the age keeps a concurrent session's image safe.
    """
    cutoff = time.time() - older_than.total_seconds()
    for entry in json.loads(buildah("images", "--json")):
        names = entry.get("names") or []
        if entry["created"] < cutoff and not any(n.startswith(STANDIN_REPOSITORY) for n in names):
            buildah("rmi", "--force", entry["id"])


def build_image(buildah: Buildah, base: str) -> BuiltImage:
    """Builds the repository's Dockerfile and sources as they are now.

    No `--layers`: under vfs every cached layer is a full copy of the root filesystem, and
    committing them made a build take ~8.5 min here instead of 35-110 s (docs/development.md),
    and the next build did not reuse them.
    What is worth caching, the stand-in base, is cached by `ensure_standin_base`.
    """
    with cache_lock("build"):
        remove_stale_images(buildah)
        with tempfile.TemporaryDirectory(prefix="myhealth-build-") as work:
            iidfile = Path(work) / "iid"
            started = time.monotonic()
            buildah(
                "bud",
                "--isolation", "chroot",
                "--pull=never",
                "--build-arg", f"PYTHON_IMAGE={base}",
                "--iidfile", str(iidfile),
                "--file", str(REPO / "Dockerfile"),
                str(REPO),
            )  # fmt: skip
            seconds = time.monotonic() - started
            image_id = iidfile.read_text().strip().removeprefix("sha256:")
        return BuiltImage(
            image_id=image_id,
            base=base,
            build_seconds=seconds,
            size_bytes=buildah.size(image_id),
            base_size_bytes=buildah.size(base),
        )
