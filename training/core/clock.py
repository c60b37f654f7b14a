"""The team's clock: times are stored in UTC and entered or shown in the team's time zone.

The zone is the ``HUASHU_TIMEZONE`` setting (default Asia/Shanghai), never the server's: a
container runs in UTC, a trainer's laptop anywhere, and both must show the same 09:00. Every
time a user enters or reads goes through this module; nothing user-facing reads the server's
local time (``now`` or ``astimezone`` without a zone, ``today``, the C ``localtime``).
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from training.core.config import get_settings

DATETIME_FORMAT = "%Y-%m-%d %H:%M"
DATE_FORMAT = "%Y-%m-%d"
TIME_FORMAT = "%H:%M:%S"
#: Inside the current year a range drops the year ("12-02 00:00 至 12-09 23:59").
SHORT_DATETIME_FORMAT = "%m-%d %H:%M"
SHORT_DATE_FORMAT = "%m-%d"
#: What an absent time shows as.
NO_TIME = "—"
#: IANA names of China Standard Time, which people call 北京时间.
CHINA_ZONES = frozenset({"Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin", "PRC"})
BEIJING_TIME = "北京时间"
#: Name of ``sqlite_team_date`` on SQLite connections (registered by ``training.core.db.make_engine``).
SQLITE_TEAM_DATE = "huashu_team_date"


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def team_zone_name() -> str:
    """The IANA name of the team's time zone (the ``timezone`` setting)."""
    return get_settings().timezone


def team_zone() -> ZoneInfo:
    """The team's time zone."""
    return _zone(team_zone_name())


def team_zone_label() -> str:
    """How the UI names the zone: 北京时间 for China's zone, else its IANA name."""
    name = team_zone_name()
    return BEIJING_TIME if name in CHINA_ZONES else name


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive values and they are UTC (training.models.utcnow stores UTC).
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def to_team(moment: datetime) -> datetime:
    """The instant ``moment`` as an aware team-time datetime; a naive value is taken as UTC."""
    return _aware(moment).astimezone(team_zone())


def from_team(local: datetime) -> datetime:
    """A wall-clock time entered in team time as the aware UTC instant to store.

    A naive value is team time (what a trainer types); an aware one is converted as it is.
    The columns (SQLModel's UTCDateTime) store UTC and refuse naive values, hence aware UTC.
    """
    if local.tzinfo is None:
        local = local.replace(tzinfo=team_zone())
    return local.astimezone(UTC)


def team_now(now: datetime | None = None) -> datetime:
    """The current (or given) instant in team time."""
    return to_team(now if now is not None else datetime.now(UTC))


def team_date(moment: datetime) -> date:
    """The team's calendar day of an instant (UTC 16:30 is the next day in Shanghai)."""
    return to_team(moment).date()


def team_today(now: datetime | None = None) -> date:
    """Today in the team's time zone, whatever the server's zone."""
    return team_now(now).date()


def day_start(day: date) -> datetime:
    """The aware UTC instant a team-local day begins (00:00 team time)."""
    return from_team(datetime.combine(day, time.min))


def day_end(day: date) -> datetime:
    """The aware UTC instant a team-local day ends (23:59:59.999999 team time)."""
    return from_team(datetime.combine(day, time.max))


def fmt_datetime(moment: datetime | None, *, seconds: bool = False) -> str:
    """``2025-12-02 08:00`` (``:SS`` with ``seconds``) in team time; ``—`` for None."""
    if moment is None:
        return NO_TIME
    return to_team(moment).strftime(DATETIME_FORMAT + (":%S" if seconds else ""))


def fmt_date(moment: date | datetime | None) -> str:
    """``2025-12-02``: an instant's team-local day, or a calendar date as it is; ``—`` for None."""
    if moment is None:
        return NO_TIME
    day = team_date(moment) if isinstance(moment, datetime) else moment
    return day.strftime(DATE_FORMAT)


def fmt_time(moment: datetime | None) -> str:
    """``08:00:05`` in team time; ``—`` for None."""
    return NO_TIME if moment is None else to_team(moment).strftime(TIME_FORMAT)


def _day_of(moment: date | datetime) -> date:
    return team_date(moment) if isinstance(moment, datetime) else moment


def fmt_range(
    start: date | datetime, end: date | datetime | None, *, now: datetime | None = None
) -> str:
    """A period in team time, ``12-02 00:00 至 12-09 23:59`` or ``12-02 起`` when open-ended.

    The year is left out only when every end falls in the current (team) year; a range that
    spans years, or lies in another year, shows it on both ends. Datetimes show the time,
    dates do not.
    """
    this_year = team_today(now).year
    ends = [start] if end is None else [start, end]
    short = all(_day_of(e).year == this_year for e in ends)

    def one(value: date | datetime) -> str:
        if isinstance(value, datetime):
            return to_team(value).strftime(SHORT_DATETIME_FORMAT if short else DATETIME_FORMAT)
        return value.strftime(SHORT_DATE_FORMAT if short else DATE_FORMAT)

    return f"{one(start)} 起" if end is None else f"{one(start)} 至 {one(end)}"


@functools.cache
def fixed_utc_offset(name: str) -> timedelta | None:
    """The zone's UTC offset if it has been constant from 2000 to 2050 (no DST), else None.

    SQL bucketing uses it: a fixed offset is plain date arithmetic in SQLite; other zones need
    the tz database, which SQLite lacks (see ``sqlite_team_date``).
    """
    zone = _zone(name)
    offsets = {datetime(year, month, 1, tzinfo=UTC).astimezone(zone).utcoffset()
               for year in range(2000, 2051) for month in (1, 4, 7, 10)}
    offset = offsets.pop() if len(offsets) == 1 else None
    return offset


def sqlite_team_date(stored: str | None, zone_name: str) -> str | None:
    """SQLite function body: the ISO team-local day of a stored naive-UTC timestamp text."""
    if stored is None:
        return None
    moment = datetime.fromisoformat(stored).replace(tzinfo=UTC)
    return moment.astimezone(_zone(zone_name)).date().isoformat()
