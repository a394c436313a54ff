"""Time is stored in UTC (naive datetimes in the database mean UTC) and shown in Asia/Shanghai."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """Now, as a naive UTC datetime (how every timestamp column stores it)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def as_utc(value: datetime) -> datetime:
    """Normalise an aware or naive datetime to naive UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def iso(value):
    """ISO 8601 with offset, in UTC, for the API."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc).isoformat()


def local(value):
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc).astimezone(SHANGHAI)


def parse_iso(raw: str) -> datetime:
    """Parse ISO 8601; a value without offset is taken as Asia/Shanghai local time."""
    value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    return as_utc(value)
