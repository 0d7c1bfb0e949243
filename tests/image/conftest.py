"""Fixtures for the image tests: the built image, a mounted copy of its root filesystem, and
services started from it the way the Helm chart starts them (see run-read-only.sh)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.image.buildah import (
    Buildah,
    BuiltImage,
    ImageConfig,
    build_image,
    ensure_standin_base,
    ensure_tools,
)

READ_ONLY_RUNNER = Path(__file__).with_name("run-read-only.sh")
SUMMARY_KEY = "myhealth/image-build"
_SESSION_STARTED = pytest.StashKey[float]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SESSION_STARTED] = time.time()
    # `pytest -n N --dist loadgroup` then keeps the image tests on one worker: one build.
    config.addinivalue_line(
        "markers", "xdist_group(name): pytest-xdist runs the group on one worker"
    )


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Names the image size in the output of every run that built it (workers included)."""
    summary = config.cache.get(SUMMARY_KEY, None) if config.cache else None
    if not summary or summary["built_at"] < config.stash[_SESSION_STARTED]:
        return
    mb = 1_000_000
    terminalreporter.write_sep("-", "container image")
    terminalreporter.write_line(
        f"image {summary['image_id'][:12]}: {summary['size_bytes'] / mb:.0f} MB "
        f"({summary['added_bytes'] / mb:.0f} MB over the stand-in base {summary['base']}, "
        f"{summary['base_size_bytes'] / mb:.0f} MB); built in {summary['build_seconds']:.0f} s"
    )


@pytest.fixture(scope="session")
def buildah() -> Buildah:
    if os.geteuid() != 0:
        pytest.fail("the image tests run as root (buildah's chroot isolation, mount namespaces)")
    ensure_tools()
    return Buildah()


@pytest.fixture(scope="session")
def built_image(buildah: Buildah, request: pytest.FixtureRequest) -> Iterator[BuiltImage]:
    image = build_image(buildah, ensure_standin_base(buildah))
    if request.config.cache is not None:
        request.config.cache.set(
            SUMMARY_KEY,
            {
                "image_id": image.image_id,
                "base": image.base,
                "size_bytes": image.size_bytes,
                "base_size_bytes": image.base_size_bytes,
                "added_bytes": image.added_bytes,
                "build_seconds": image.build_seconds,
                "built_at": time.time(),
            },
        )
    try:
        yield image
    finally:
        # Only the stand-in base stays in the store; each run builds the current sources.
        subprocess.run(
            buildah.argv("rmi", "--force", image.image_id), capture_output=True, check=False
        )


@pytest.fixture(scope="session")
def image_config(buildah: Buildah, built_image: BuiltImage) -> ImageConfig:
    return buildah.config(built_image.image_id)


@pytest.fixture(scope="session")
def container(buildah: Buildah, built_image: BuiltImage) -> Iterator[str]:
    """A working container of the image (for `buildah run`)."""
    name = buildah("from", "--pull=never", built_image.image_id).strip()
    try:
        yield name
    finally:
        subprocess.run(buildah.argv("rm", name), capture_output=True, check=False)


@pytest.fixture(scope="session")
def rootfs(buildah: Buildah, container: str) -> Iterator[Path]:
    """The container's root filesystem, mounted; run-read-only.sh binds it read-only."""
    path = Path(buildah("mount", container).strip())
    try:
        yield path
    finally:
        subprocess.run(buildah.argv("umount", container), capture_output=True, check=False)


@dataclass(frozen=True)
class ReadOnlyRunner:
    """Runs the image's commands as the chart does: read-only root, tmpfs /tmp, image user."""

    rootfs: Path
    config: ImageConfig

    def argv(
        self, args: Sequence[str], env: Mapping[str, str], user: str | None = None
    ) -> list[str]:
        merged = dict(item.split("=", 1) for item in self.config.env)
        merged.update(env)
        return [
            str(READ_ONLY_RUNNER),
            str(self.rootfs),
            user or self.config.user,
            *(f"{key}={value}" for key, value in merged.items()),
            *args,
        ]

    def run(
        self, args: Sequence[str], env: Mapping[str, str] | None = None, user: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(args, env or {}, user),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def myhealth(self, *args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        """`docker run IMAGE args` semantics: the image's ENTRYPOINT with these arguments."""
        return self.run([*self.config.entrypoint, *args], env)

    @contextlib.contextmanager
    def service(
        self, args: Sequence[str], env: Mapping[str, str], log: Path
    ) -> Iterator[subprocess.Popen[bytes]]:
        """Starts ENTRYPOINT + args in the background; SIGTERM (then SIGKILL) on the way out."""
        with log.open("wb") as sink:
            process = subprocess.Popen(
                self.argv([*self.config.entrypoint, *args], env),
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                yield process
            finally:
                stop(process)


def stop(process: subprocess.Popen[bytes], grace: float = 30) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_ready(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90
) -> httpx.Response:
    """Polls `url` until it answers 200; fails at once (with the log) if the process exits."""
    deadline = time.monotonic() + timeout
    last: str = "no answer"
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                output = log.read_text()[-3000:]
                pytest.fail(f"exited {process.returncode} before {url} was ready:\n{output}")
            try:
                response = client.get(url)
            except httpx.TransportError as error:
                last = repr(error)
            else:
                if response.status_code == 200:
                    return response
                last = f"{response.status_code} {response.text[:200]}"
            time.sleep(0.2)
    pytest.fail(f"{url} not ready after {timeout} s (last: {last}):\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def read_only(rootfs: Path, image_config: ImageConfig) -> ReadOnlyRunner:
    return ReadOnlyRunner(rootfs, image_config)
