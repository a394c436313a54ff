"""The data room (尽职调查资料室) of a listing: due-diligence files shown under an NDA.

- The seller's side uploads files (claims, file history, test reports, licence agreements) through the
  platform's safe uploads (type by content: PDF, PNG, JPEG), at most DATAROOM_FILE_MAX_BYTES each and
  DATAROOM_MAX_BYTES and MAX_FILES per room; a PDF must open (not encrypted) and be within the page bound.
- The NDA is a template the seller's side edits (``nda_text``). A buyer asks for access by accepting it
  with its password re-entered: the request keeps the frozen text, its SHA-256 (escrow.contracts.sha256_of,
  the contract-signing pattern), the signer, the organisation, the time and the IP address.
- The seller's side grants access; an operator may too, for a buyer whose organisation is verified, when
  the seller allows it (``operator_may_grant``). Either side can revoke (the seller's side, or an operator).
- Files are served only to a granted buyer of a listing still on the market (published or reserved): access
  ends by itself when the listing is sold or withdrawn. Every download is watermarked with the viewer's
  organisation and the time (demand.watermark) and logged; the seller's side reads the log.
- Refused, and logged (``DataRoomLog``, event "refused"), with nothing else changed: a request for one's own
  side's listing, a second acceptance, a download without a grant, after a revoke, or after the listing left
  the market. None of the data room is in search or on public pages.
"""
import logging
import os

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from escrow.contracts import MAX_PASSWORD, sha256_of
from listings.bidding import is_own_organisation, is_seller_side
from listings.models import Listing
from marketplace.kernel.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import msg
from marketplace.kernel.notify import has_control_chars, notify
from marketplace.kernel.timeutil import iso, local, utcnow
from marketplace.kernel.uploads import save_upload, upload_path

from . import watermark
from .models import FILE_CATEGORIES, DataRoom, DataRoomAccess, DataRoomFile, DataRoomLog

log = logging.getLogger(__name__)
AREA = "dataroom"
MAX_FILES = 50
MIN_NDA, MAX_NDA = 20, 20_000
MARKET = ("published", "reserved")  # a granted buyer sees the files while the listing is in one of these
UPLOADABLE = ("draft", "pending_review", "published", "reserved")
DEFAULT_NDA = (
    "保密协议（尽职调查）\n\n"
    "一、签署方（“接收方”）为评估受让或许可挂牌「{title}」所述知识产权之目的，查阅卖方在知产超市资料室提供的资料"
    "（“保密信息”）。\n"
    "二、接收方仅为上述目的使用保密信息，不向任何第三方披露，不复制、不传播，并采取不低于保护自身保密信息的措施加以保护。\n"
    "三、公开可得、接收方已合法知悉或独立开发的信息除外。\n"
    "四、每次下载均带有接收方机构名称与时间水印并被记录；违反本协议的，接收方承担由此造成的全部损失。\n"
    "五、本协议自接收方在平台上输入登录密码确认之时生效，有效期三年；适用中华人民共和国法律。"
)


def _listing(listing_id):
    listing = db.session.get(Listing, listing_id) if isinstance(listing_id, int) else None
    if listing is None:
        raise NotFound(_("挂牌不存在"))
    return listing


def may_manage(listing, user):
    return user is not None and is_seller_side(listing, user)


def managed_listing(listing_id, user, operators=False):
    """The listing if ``user`` is its seller's side (or, with ``operators``, an operator); else 404."""
    listing = _listing(listing_id)
    if may_manage(listing, user) or (operators and user.is_operator):
        return listing
    raise NotFound(_("挂牌不存在"))


def visible_listing(listing_id, user):
    """The listing's data room exists for a listing on the market (and for its seller's side at any time)."""
    listing = _listing(listing_id)
    if listing.is_public or may_manage(listing, user) or user.is_operator:
        return listing
    raise NotFound(_("挂牌不存在"))


def room_of(listing, create=False):
    room = db.session.scalar(select(DataRoom).where(DataRoom.listing_id == listing.id))
    if room is None and create:
        room = DataRoom(listing_id=listing.id, nda_text=DEFAULT_NDA.format(title=listing.title))
        db.session.add(room)
        db.session.flush()
    return room


def nda_text(listing):
    room = room_of(listing)
    return room.nda_text if room is not None else DEFAULT_NDA.format(title=listing.title)


def files_of(listing):
    return db.session.execute(select(DataRoomFile).where(DataRoomFile.listing_id == listing.id,
                                                         DataRoomFile.removed_at.is_(None))
                              .order_by(DataRoomFile.id)).scalars().all()


def room_bytes(listing):
    return db.session.scalar(select(func.coalesce(func.sum(DataRoomFile.size), 0)).where(
        DataRoomFile.listing_id == listing.id, DataRoomFile.removed_at.is_(None))) or 0


def upload(listing_id, user, file_storage, category="other", now=None):
    listing = managed_listing(listing_id, user)
    if listing.status not in UPLOADABLE:
        raise Conflict(_("挂牌已不在市场上，资料室已关闭"))
    if category not in FILE_CATEGORIES:
        raise ValidationError(_("资料类别有误"), {"category": _("可选：%(o)s", o=", ".join(FILE_CATEGORIES))})
    if len(files_of(listing)) >= MAX_FILES:
        raise Conflict(_("资料室最多 %(n)s 个文件", n=MAX_FILES))
    config = current_app.config
    per_file = config.get("DATAROOM_FILE_MAX_BYTES") or config["UPLOAD_MAX_BYTES"]
    per_room = config.get("DATAROOM_MAX_BYTES", 50 * 1024 * 1024)
    stored, kind, size, original = save_upload(file_storage, max_bytes=per_file, field="document", area=AREA)
    path = upload_path(stored, area=AREA)
    try:
        if room_bytes(listing) + size > per_room:
            raise ValidationError(_("资料室空间不足"), {"document": _("每个资料室合计不超过 %(n)s MB",
                                                                   n=per_room // (1024 * 1024))})
        watermark.check(path.read_bytes(), kind)
    except DomainError:
        os.unlink(path)
        raise
    room_of(listing, create=True)
    row = DataRoomFile(listing_id=listing.id, category=category, stored_name=stored, file_kind=kind, size=size,
                       original_name=original or stored, uploaded_by=user.id, created_at=now or utcnow())
    db.session.add(row)
    db.session.flush()
    return row


def remove_file(file_id, user, now=None):
    row = db.session.get(DataRoomFile, file_id) if isinstance(file_id, int) else None
    if row is None or row.removed_at is not None:
        raise NotFound(_("文件不存在"))
    managed_listing(row.listing_id, user)
    row.removed_at = now or utcnow()
    return row


def edit_nda(listing_id, user, text, operator_may_grant=None, now=None):
    listing = managed_listing(listing_id, user)
    if not isinstance(text, str) or not MIN_NDA <= len(text.strip()) <= MAX_NDA:
        raise ValidationError(_("保密协议文本有误"), {"nda_text": _("%(a)s–%(b)s 个字符", a=MIN_NDA, b=MAX_NDA)})
    text = text.strip().replace("\r\n", "\n")
    if has_control_chars(text.replace("\n", "")):
        raise ValidationError(_("保密协议文本有误"), {"nda_text": _("不能包含控制字符")})
    room = room_of(listing, create=True)
    room.nda_text = text
    if operator_may_grant is not None:
        room.operator_may_grant = bool(operator_may_grant)
    room.updated_at = now or utcnow()
    return room


def access_of(listing, user):
    if user is None:
        return None
    return db.session.scalar(select(DataRoomAccess).where(DataRoomAccess.listing_id == listing.id,
                                                          DataRoomAccess.user_id == user.id))


def refuse_logged(listing_id, user, detail, ip="", file_id=None):
    """Record a refused attempt on its own (the caller's work is rolled back first); never raises."""
    try:
        db.session.rollback()
        db.session.add(DataRoomLog(listing_id=listing_id, user_id=getattr(user, "id", None), file_id=file_id,
                                   event="refused", detail=str(detail)[:300], ip_address=(ip or "")[:45]))
        db.session.commit()
    except Exception:  # noqa: BLE001 - the refusal stands even when its log row cannot be written
        db.session.rollback()
        log.warning("could not log a refused data-room attempt on listing %s", listing_id, exc_info=True)


def request_access(listing_id, user, password, ip="", now=None):
    """The buyer accepts the listing's NDA with its password and asks for access. Returns the access row."""
    if not user.has_role("buyer"):
        raise PermissionDenied(_("只有买方账户可以申请查阅资料室"))
    listing = visible_listing(listing_id, user)
    try:
        if is_own_organisation(listing, user):
            raise PermissionDenied(_("不能申请查阅本方挂牌的资料室"))
        if listing.status not in MARKET:
            raise Conflict(_("挂牌已不在市场上，资料室已关闭"))
        if access_of(listing, user) is not None:
            raise Conflict(_("您已签署过该挂牌的保密协议"))
        if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD \
                or not user.check_password(password):
            raise ValidationError(_("密码不正确，未签署"), {"password": _("请输入您的登录密码")})
    except DomainError as exc:
        if not isinstance(exc, ValidationError):
            refuse_logged(listing.id, user, f"request: {exc.message}", ip)
        raise
    now = now or utcnow()
    text = nda_text(listing)
    row = DataRoomAccess(listing_id=listing.id, user_id=user.id, status="requested", nda_text=text,
                         nda_sha256=sha256_of(text), signer_name=user.name[:100],
                         organization_name=user.organization.name[:200] if user.organization else None,
                         signed_ip=(ip or "")[:45], signed_at=now)
    db.session.add(row)
    db.session.flush()
    notify(listing.seller_id, "dataroom", msg(N_("有买方签署保密协议并申请查阅资料室：%(t)s"), t=listing.title[:60]),
           row.organization_name or row.signer_name, link=f"/listings/{listing.id}/dataroom")
    return row


def _access(access_id):
    row = db.session.get(DataRoomAccess, access_id) if isinstance(access_id, int) else None
    if row is None:
        raise NotFound(_("申请不存在"))
    return row


def grant(access_id, actor, now=None):
    row = _access(access_id)
    listing = row.listing
    if may_manage(listing, actor):
        pass
    elif actor.is_operator:
        room = room_of(listing)
        if room is None or not room.operator_may_grant:
            raise PermissionDenied(_("卖方未允许运营人员代为授权"))
        if row.user.organization is None or not row.user.organization.verified:
            raise PermissionDenied(_("运营人员只能为已认证机构的买方授权"))
    else:
        raise NotFound(_("申请不存在"))
    if row.status != "requested":
        raise Conflict(_("该申请不在待授权状态"))
    if listing.status not in MARKET:
        raise Conflict(_("挂牌已不在市场上，资料室已关闭"))
    row.status, row.granted_at, row.granted_by = "granted", now or utcnow(), actor.id
    notify(row.user_id, "dataroom", msg(N_("资料室查阅已获授权：%(t)s"), t=listing.title[:60]), "",
           link=f"/listings/{listing.id}/dataroom")
    return row


def revoke(access_id, actor, now=None):
    row = _access(access_id)
    if not (may_manage(row.listing, actor) or actor.is_operator):
        raise NotFound(_("申请不存在"))
    if row.status == "revoked":
        raise Conflict(_("已撤销"))
    row.status, row.revoked_at, row.revoked_by = "revoked", now or utcnow(), actor.id
    notify(row.user_id, "dataroom", msg(N_("资料室查阅权限已撤销：%(t)s"), t=row.listing.title[:60]), "",
           link=f"/listings/{row.listing_id}/dataroom")
    return row


def watermark_text(user, now):
    who = user.organization.name if user.organization is not None else user.name
    return f"{who} · {local(now).strftime('%Y-%m-%d %H:%M')} · IP Mart #{user.id}"


def download(file_id, user, ip="", now=None):
    """(file row, watermarked bytes) for a granted viewer; the download is logged. Refusals are logged too."""
    row = db.session.get(DataRoomFile, file_id) if isinstance(file_id, int) else None
    if row is None or row.removed_at is not None:
        raise NotFound(_("文件不存在"))
    listing = db.session.get(Listing, row.listing_id)
    now = now or utcnow()
    if not may_manage(listing, user):
        access = access_of(listing, user)
        reason = None
        if access is None:
            reason = "no_access"
        elif access.status == "revoked":
            reason = "revoked"
        elif access.status != "granted":
            reason = "not_granted"
        elif listing.status not in MARKET:
            reason = f"listing_{listing.status}"
        if reason is not None:
            refuse_logged(listing.id, user, f"download: {reason}", ip, file_id=row.id)
            if access is None and not listing.is_public:
                raise NotFound(_("文件不存在"))
            raise PermissionDenied(_("您没有查阅该资料室的权限") if reason in ("no_access", "not_granted", "revoked")
                                   else _("挂牌已不在市场上，资料室已关闭"))
    try:
        data = upload_path(row.stored_name, area=AREA).read_bytes()
    except OSError:
        log.error("data-room file %s is missing from storage", row.id)
        raise NotFound(_("文件不存在")) from None
    body = watermark.apply(data, row.file_kind, watermark_text(user, now))
    db.session.add(DataRoomLog(listing_id=listing.id, user_id=user.id, file_id=row.id, event="download",
                               detail=row.original_name[:300], ip_address=(ip or "")[:45], created_at=now))
    return row, body


def accesses_of(listing):
    return db.session.execute(select(DataRoomAccess).where(DataRoomAccess.listing_id == listing.id)
                              .order_by(DataRoomAccess.id)).scalars().all()


def log_of(listing, limit=500):
    return db.session.execute(select(DataRoomLog).where(DataRoomLog.listing_id == listing.id)
                              .order_by(DataRoomLog.id.desc()).limit(limit)).scalars().all()


def access_json(row):
    return {"id": row.id, "listing_id": row.listing_id, "user_id": row.user_id, "status": row.status,
            "signer": row.signer_name, "organization": row.organization_name, "nda_sha256": row.nda_sha256,
            "signed_at": iso(row.signed_at), "signed_ip": row.signed_ip, "granted_at": iso(row.granted_at),
            "revoked_at": iso(row.revoked_at)}


def file_json(row):
    return {"id": row.id, "category": row.category, "name": row.original_name, "type": row.file_kind,
            "size": row.size, "created_at": iso(row.created_at), "url": f"/api/v1/dataroom/files/{row.id}"}


def log_json(row):
    return {"id": row.id, "user_id": row.user_id, "user": row.user.name if row.user else None,
            "organization": row.user.organization.name if row.user and row.user.organization else None,
            "file_id": row.file_id, "event": row.event, "detail": row.detail, "ip_address": row.ip_address,
            "at": iso(row.created_at)}


def room_json(listing, user):
    """What ``user`` may know of the room: the NDA and its hash; files for the side and granted buyers."""
    text = nda_text(listing)
    access = access_of(listing, user)
    body = {"listing_id": listing.id, "nda_text": text, "nda_sha256": sha256_of(text),
            "access": access_json(access) if access else None, "manage": may_manage(listing, user)}
    granted = access is not None and access.status == "granted" and listing.status in MARKET
    if body["manage"] or granted:
        body["files"] = [file_json(f) for f in files_of(listing)]
    if body["manage"]:
        room = room_of(listing)
        body["operator_may_grant"] = bool(room and room.operator_may_grant)
    return body
