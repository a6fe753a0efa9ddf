"""What the stack pins and the CLI's preflight checks a region for: the Neptune engine (chosen from a table of
releases and their end of life), the Lambda runtime and architecture. Standard library only: the CLI
imports it without starting CDK."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# The functions' runtime and architecture, as neptune_stream.functions pins them (a template test checks they agree).
LAMBDA_RUNTIME = "python3.14"
LAMBDA_ARCHITECTURE = "arm64"
# The Neptune instance class when the CDK context names none (neptune-stream:instanceClass).
DEFAULT_INSTANCE_CLASS = "db.r6g.large"
RELEASES_PAGE = "https://docs.aws.amazon.com/neptune/latest/userguide/engine-releases.html"


@dataclass(frozen=True)
class EngineRelease:
    """A Neptune engine release as its pages give it; `end_of_life` None: no page we read gives one. Each one
    listed runs this stack: Neptune Streams (the cluster parameter group's neptune_streams,
    https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-enabling.html), IAM database
    authentication (https://docs.aws.amazon.com/neptune/latest/userguide/iam-auth-enable.html) and the
    cluster parameter group `family` (https://docs.aws.amazon.com/neptune/latest/userguide/parameter-groups.html)."""

    version: str
    released: date
    end_of_life: date | None
    family: str
    page: str


def _page(version: str) -> str:
    return f"https://docs.aws.amazon.com/neptune/latest/userguide/engine-releases-{version}.html"


# From the engine releases table (RELEASES_PAGE: version, released, end of life) and each release's page, read
# 2026-12-07. Every 1.4 release speaks Gremlin (TinkerPop) 3.7.x only
# (https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin.html): gremlinpython 3.8's iterate()
# sends discard(), a TinkerPop 3.8 step these engines refuse, so a client writing to the cluster stays on
# gremlinpython 3.7 (docs/deploying.md, "Engine version"). The 1.5 releases (TinkerPop 3.8) are not listed: no
# page we could read gives their release or end-of-life dates, and they need the neptune1.5 family, which
# aws-neptune-alpha 2.275 does not name and which gives a deployed stack a new cluster parameter group.
ENGINE_RELEASES: dict[str, EngineRelease] = {
    r.version: r
    for r in (
        EngineRelease("1.4.6.1", date(2025, 9, 18), date(2027, 3, 6), "neptune1.4", _page("1.4.6.1")),
        EngineRelease("1.4.6.2", date(2025, 11, 18), date(2027, 6, 3), "neptune1.4", _page("1.4.6.2")),
        EngineRelease("1.4.6.3", date(2025, 12, 18), date(2027, 6, 3), "neptune1.4", _page("1.4.6.3")),
        EngineRelease("1.4.7.0", date(2026, 3, 3), date(2027, 6, 3), "neptune1.4", _page("1.4.7.0")),
        # Its page (Gremlin 3.7.1, upgrades from 1.2.0.0 and later) gives no end of life, nor did the table we read.
        EngineRelease("1.4.7.1", date(2026, 9, 18), None, "neptune1.4", _page("1.4.7.1")),
    )
}


def longest_lived(releases: dict[str, EngineRelease]) -> EngineRelease:
    """The release whose end of life is the latest known; among equals, the newest."""
    known = [(r.end_of_life, r.released, r) for r in releases.values() if r.end_of_life is not None]
    return max(known, key=lambda k: (k[0], k[1]))[2]


PINNED = longest_lived(ENGINE_RELEASES)
# How long before its end of life a synth warns that the pinned engine needs an upgrade (six months): a major
# version upgrade is the user's to plan, and when a major version reaches its end of life "an upgrade to the
# most recent major version is automatically scheduled" after a grace period
# (https://docs.aws.amazon.com/neptune/latest/userguide/release-types.html).
END_OF_LIFE_NOTICE_DAYS = 183


def end_of_life_warning(release: EngineRelease, today: date) -> str | None:
    """The synth-time warning when `release` ends within END_OF_LIFE_NOTICE_DAYS of `today`, else None."""
    if release.end_of_life is None or (release.end_of_life - today).days > END_OF_LIFE_NOTICE_DAYS:
        return None
    return (
        f"Neptune engine {release.version} ends on {release.end_of_life.isoformat()} ({RELEASES_PAGE}); after a grace "
        "period Neptune schedules the upgrade itself. Pin a newer engine in neptune_stream/pins.py (ENGINE_RELEASES) "
        "and upgrade deliberately: docs/deploying.md, 'Engine version'."
    )
