"""Reading operators' and claimants' input for the register's services (HTML forms and the API alike).

Each function turns raw input (form text or JSON) into the values ``listings.register``
takes, or raises ``ValidationError`` naming the fields. A natural person's ID number is
masked here, before anything else sees it: the full number is never stored, logged or audited.
"""
import re
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace.kernel import labels
from marketplace.kernel.errors import ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.models import Organization, User

from .models.register import ID_TYPES, LICENCE_TYPES
from .validation import _date, _int, _text
from .vocab import (
    LEGAL_STATUSES,
    MAX_ABSTRACT,
    MAX_CORRECTED_COUNT,
    MAX_RIGHT_TITLE,
    PATENT_TYPE_LABELS,
    TM_STATUSES,
)

# Fields an operator corrects from the console and the API, per kind: (column, kind of value).
PATENT_CORRECTIONS = (("title", "text"), ("patent_type", "patent_type"), ("legal_status", "legal_status"),
                      ("filing_date", "date"), ("grant_date", "date"), ("annuity_paid_until", "date"),
                      ("claims_count", "int"), ("abstract", "long_text"))
TRADEMARK_CORRECTIONS = (("title", "text"), ("tm_status", "tm_status"), ("registration_date", "date"),
                         ("disputes", "int"))
FIELD_LABELS = {"title": _l("名称 / 商标文字"), "patent_type": _l("专利类型"), "legal_status": _l("法律状态"),
                "filing_date": _l("申请日"), "grant_date": _l("授权日"), "annuity_paid_until": _l("年费缴至"),
                "claims_count": _l("权利要求数"), "abstract": _l("摘要"), "tm_status": _l("商标状态"),
                "registration_date": _l("注册日（本期起算）"), "disputes": _l("已知争议数")}
ID_TYPE_LABELS = {"resident_id": _l("居民身份证"), "passport": _l("护照"), "hk_macao_permit": _l("港澳居民来往内地通行证"),
                  "taiwan_permit": _l("台湾居民来往大陆通行证"), "other": _l("其他证件")}
HOLDER_TYPE_LABELS = {"organization": _l("平台上的单位"), "person": _l("自然人"), "outside": _l("平台外的单位或个人")}
LICENCE_TYPE_LABELS = labels.lazy(labels.LICENCE_TYPE)
MAX_HOLDERS = 10
_ID_NUMBER = re.compile(r"^[A-Za-z0-9()（）-]{5,30}$")
_MASKED = re.compile(r"^[A-Za-z0-9()（）-]{0,4}\*{1,26}[A-Za-z0-9()（）-]{0,4}$")


CHOICES = {"patent_type": PATENT_TYPE_LABELS, "legal_status": LEGAL_STATUSES, "tm_status": TM_STATUSES}


def corrections_for(kind):
    return PATENT_CORRECTIONS if kind == "patent" else TRADEMARK_CORRECTIONS


def clean_changes(right, raw, *, only_changed=False):
    """``{column: value}`` for ``register.correct`` from raw input; refuses fields of the other kind.

    ``only_changed`` drops values equal to the entry's (the HTML form sends every field).
    """
    if not isinstance(raw, dict) or not raw:
        raise ValidationError(_("没有要更正的内容"), {"changes": _("必填")})
    allowed = dict(corrections_for(right.kind))
    fields, out = {}, {}
    for key, value in raw.items():
        kind = allowed.get(key)
        if kind is None:
            fields[str(key)[:60]] = _("未知或不可更正的字段")
            continue
        if kind in ("text", "long_text"):
            value = _text(value, fields, key, required=True, max_len=MAX_RIGHT_TITLE if kind == "text" else MAX_ABSTRACT)
        elif kind == "date":
            value = _date(value, fields, key)
        elif kind == "int":
            value = _int(value, fields, key, minimum=0, maximum=MAX_CORRECTED_COUNT)
        else:
            choices = CHOICES[kind]
            if value not in (None, "") and not (isinstance(value, str) and value in choices):
                fields[key] = _("应为以下之一：%(v)s", v="、".join(choices))
                continue
            value = value or None
        if key in fields:
            continue
        if only_changed and getattr(right, key) == value:
            continue
        out[key] = value
    if fields:
        raise ValidationError(_("更正内容有误"), fields)
    if not out:
        raise ValidationError(_("没有要更正的内容"), {"changes": _("与登记簿现有内容相同")})
    return out


def mask_id_number(number):
    """Mask at least half of an ID number: an 18-character resident ID keeps its first and last 4
    (4401**********1234); a 9-character passport or permit only its first and last 2 (E1*****78);
    8 or fewer characters only the last 2."""
    number = re.sub(r"\s+", "", number or "")
    if len(number) <= 8:
        return "*" * max(len(number) - 2, 0) + number[-2:]
    keep = min(4, len(number) // 4)
    return number[:keep] + "*" * (len(number) - 2 * keep) + number[-keep:]


def clean_holders(rows):
    """Holder parties (as ``RightHolder.as_party``) from rows of ``{type, name, uscc, id_type, id_number}``.

    An organisation is found on the platform by its USCC or its exact name; a natural person gives
    a name, an ID type and a number (masked here); an outside party gives a name.
    """
    fields, parties = {}, []
    if not isinstance(rows, list):
        raise ValidationError(_("权利人应为列表"), {"holders": _("应为列表")})
    rows = [r for r in rows if isinstance(r, dict) and any(str(v or "").strip() for k, v in r.items() if k not in ("type", "index"))]
    if not rows:
        raise ValidationError(_("至少一个权利人"), {"holders": _("必填")})
    if len(rows) > MAX_HOLDERS:
        raise ValidationError(_("权利人过多"), {"holders": _("最多 %(n)s 个", n=MAX_HOLDERS)})
    for i, row in enumerate(rows):
        prefix = f"holders-{row.get('index', i)}"
        kind = row.get("type")
        name = _text(row.get("name"), fields, f"{prefix}-name", max_len=200) or ""
        if kind == "organization":
            uscc = (_text(row.get("uscc"), fields, f"{prefix}-uscc", max_len=18) or "").upper()
            if not uscc and not name:
                fields[f"{prefix}-name"] = _("请填写单位名称或统一社会信用代码")
                continue
            org = db.session.scalar(select(Organization).where(
                Organization.uscc == uscc if uscc else Organization.name == name).limit(1))
            if org is None:
                fields[f"{prefix}-uscc" if uscc else f"{prefix}-name"] = _("平台上没有这个单位；平台外的单位请选“平台外的单位或个人”")
                continue
            parties.append({"type": "organization", "organization_id": org.id, "user_id": None, "name": org.name})
        elif kind == "person":
            id_type = row.get("id_type")
            number = re.sub(r"\s+", "", str(row.get("id_number") or ""))
            kept = str(row.get("id_number_masked") or "")  # the register's masked number, kept when none is typed
            if not name:
                fields[f"{prefix}-name"] = _("必填")
            if id_type not in ID_TYPES:
                fields[f"{prefix}-id_type"] = _("请选择证件类型")
            if not number and _MASKED.match(kept):
                masked = kept
            elif not _ID_NUMBER.match(number):
                fields[f"{prefix}-id_number"] = _("证件号码应为 5–30 位字母或数字")
            elif id_type == "resident_id" and not re.fullmatch(r"\d{17}[\dXx]", number):
                fields[f"{prefix}-id_number"] = _("居民身份证号码应为 18 位")
            else:
                masked = mask_id_number(number)
            # The person's platform account (e-mail), when they have one: the register then gives the right
            # to that user, who may list it (issue 13). Only an account without an organisation is a person.
            account = (_text(row.get("account"), fields, f"{prefix}-account", max_len=254) or "").strip().lower()
            user_id = None
            if account:
                person = db.session.scalar(select(User).where(db.func.lower(User.email) == account).limit(1))
                if person is None:
                    fields[f"{prefix}-account"] = _("平台上没有这个账户")
                elif person.organization_id is not None:
                    fields[f"{prefix}-account"] = _("该账户属于单位：单位持有的权利请选“平台上的单位”")
                else:
                    user_id = person.id
            if name and id_type in ID_TYPES and f"{prefix}-id_number" not in fields \
                    and f"{prefix}-account" not in fields:
                parties.append({"type": "person", "organization_id": None, "user_id": user_id, "name": name,
                                "id_type": id_type, "id_number_masked": masked})
        elif kind == "outside":
            if not name:
                fields[f"{prefix}-name"] = _("必填")
                continue
            parties.append({"type": "outside", "organization_id": None, "user_id": None, "name": name})
        else:
            fields[f"{prefix}-type"] = _("请选择权利人类型")
    if fields:
        raise ValidationError(_("权利人信息有误"), fields)
    return parties


def clean_encumbrance(raw):
    """Values for ``register.add_encumbrance``: a pledge or a licence as CNIPA records it."""
    fields = {}
    kind = raw.get("kind")
    if kind not in ("pledge", "licence"):
        raise ValidationError(_("请选择质押或许可"), {"kind": _("应为 pledge（质押）或 licence（许可）")})
    values = {"kind": kind,
              "party_name": _text(raw.get("party_name"), fields, "party_name", required=True, max_len=200),
              "registration_number": _text(raw.get("registration_number"), fields, "registration_number",
                                           max_len=60) or None,
              "starts_on": _date(raw.get("starts_on"), fields, "starts_on"),
              "ends_on": _date(raw.get("ends_on"), fields, "ends_on")}
    if kind == "licence":
        licence_type = raw.get("licence_type")
        if licence_type not in LICENCE_TYPES:
            fields["licence_type"] = _("请选择许可类型")
        values.update(licence_type=licence_type,
                      territory=_text(raw.get("territory"), fields, "territory", max_len=100) or None,
                      field=_text(raw.get("field"), fields, "field", max_len=200) or None)
    if isinstance(values["starts_on"], date) and isinstance(values["ends_on"], date) \
            and values["ends_on"] < values["starts_on"]:
        fields["ends_on"] = _("不能早于开始日期")
    if fields:
        raise ValidationError(_("质押或许可信息有误"), fields)
    return values
