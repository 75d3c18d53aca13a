"""Resource streams (names, limits: `Stream.every`) in the daemon.

The daemon's usage poll never reads a resource; `poll_resources` reads only the due ones, a
failed read keeps the last levels (and shows in `usage_exporter_resource_up`), `Unavailable`
turns one resource off without touching the target's up. Driven through a stand-in source in
process (the HTTP side is tests/integration/test_names_and_limits.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from exporter.config.load import Config
from exporter.daemon import Daemon
from exporter.model import Level, Stream, StreamRead, Unavailable, Window
from exporter.upstream import UpstreamError, composite


class Fake:
    """A usage stream and two resources; what each read answers is set by the test."""

    def __init__(self) -> None:
        self.reads: list[str] = []
        self.names: dict[str, str] = {"p1": "one"}
        self.failing: dict[str, BaseException] = {}

    async def streams(self) -> Sequence[Stream]:
        return (
            Stream("usage", 0, 0, 0),
            Stream("info/projects", 0, 0, 0, every=900),
            Stream("info/limits", 0, 0, 0, every=900),
        )

    async def read(self, stream: Stream, window: Window) -> StreamRead:
        self.reads.append(stream.name)
        if stream.name in self.failing:
            raise self.failing[stream.name]
        if stream.name == "info/projects":
            levels = [
                Level("openai_project_info", (pid, name, "active"), 1)
                for pid, name in self.names.items()
            ]
        elif stream.name == "info/limits":
            levels = [Level("openai_spend_limit_usd", (), 15.0)]
        else:
            levels = [Level("openai_vector_store_bytes", ("p1",), 7.0)]
        return StreamRead(stream.name, window.start, window.start, levels=levels)


@pytest.fixture
def daemon(tmp_path: Path) -> Daemon:
    config = Config.model_validate(
        {
            "state_dir": str(tmp_path),
            "sources": [{"kind": "openai", "name": "oa", "api_key": "sk-admin-x"}],
        }
    )
    return Daemon(config)


def text(daemon: Daemon) -> str:
    assert daemon.state.exposition is not None
    return daemon.state.exposition.text.decode()


async def test_usage_polls_never_read_resources(daemon: Daemon) -> None:
    fake = Fake()
    target = daemon.targets[0]
    target.source = fake
    try:
        assert await daemon.poll(target)
        assert fake.reads == ["usage"]
        await daemon.poll_resources(target)
        assert sorted(fake.reads) == ["info/limits", "info/projects", "usage"]
        await daemon.poll_resources(target)  # not due again for 900 s
        assert len(fake.reads) == 3
        assert 'project_name="one"' in text(daemon)
        # a failed read keeps the last levels, shows per resource, and the target stays up
        fake.names = {"p1": "renamed"}
        fake.failing["info/projects"] = UpstreamError("projects", "server error 500")
        await daemon.poll_resources(target, force=True)
        out = text(daemon)
        assert 'project_name="one"' in out and "renamed" not in out
        assert (
            'usage_exporter_resource_up{resource="projects",source="openai",target="oa"} 0.0' in out
        )
        assert (
            'usage_exporter_resource_up{resource="limits",source="openai",target="oa"} 1.0' in out
        )
        assert await daemon.poll(target)  # the usage poll neither fails nor forgets the names
        assert 'project_name="one"' in text(daemon)
        # Unavailable: the resource is off, its levels and self-metrics leave, never read again
        fake.failing["info/projects"] = Unavailable("projects: 403")
        await daemon.poll_resources(target, force=True)
        out = text(daemon)
        assert "openai_project_info{" not in out and 'resource="projects"' not in out
        assert "openai_spend_limit_usd{" in out
        reads = len(fake.reads)
        await daemon.poll_resources(target, force=True)
        assert "info/projects" not in fake.reads[reads:]
        assert daemon.state.targets["oa"].up
    finally:
        await daemon.aclose()


async def test_a_composite_hands_each_read_to_the_part_that_listed_it() -> None:
    class Part:
        def __init__(self, name: str) -> None:
            self.name = name

        async def streams(self) -> Sequence[Stream]:
            return (Stream(self.name, 0, 0, 0),)

        async def read(self, stream: Stream, window: Window) -> StreamRead:
            return StreamRead(f"{self.name} read {stream.name}", 0, 0)

    both = composite.Composite(Part("a"), Part("b"))
    listed = await both.streams()
    assert [s.name for s in listed] == ["a", "b"]
    assert (await both.read(listed[1], Window(0, 0))).stream == "b read b"
    with pytest.raises(ValueError, match="two parts"):
        await composite.Composite(Part("a"), Part("a")).streams()


def test_names_and_limits_config_keys() -> None:
    base = {"kind": "openai", "name": "oa", "api_key": "sk-admin-x"}
    from exporter.vendors.arthur.config import ArthurConfig as ArthurSource
    from exporter.vendors.openai.config import OpenAIConfig as OpenAISource

    default = OpenAISource.model_validate(base)
    assert default.resource_interval == 900 and default.user_email is False
    assert all(dict(default.resources).values())
    off = OpenAISource.model_validate(
        {**base, "resources": {"users": False}, "resource_interval": "1h"}
    )
    assert off.resources.users is False and off.resource_interval == 3600
    with pytest.raises(ValueError, match="nope"):
        OpenAISource.model_validate({**base, "resources": {"nope": True}})
    with pytest.raises(ValueError):
        OpenAISource.model_validate({**base, "resource_interval": "0s"})
    arthur = ArthurSource.model_validate({"kind": "arthur", "name": "ar", "api_key": "k"})
    assert arthur.task_names and arthur.resource_interval == 900
