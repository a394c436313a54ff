"""Safe uploads: type checked by content (magic bytes), size limited, stored outside static files
under random names, served only through views that check permission.
"""
import os
import secrets
from pathlib import Path

from flask import current_app, send_file
from flask_babel import gettext as _

from .errors import NotFound, ValidationError

SIGNATURES = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
}
MIMETYPES = {"pdf": "application/pdf", "png": "image/png", "jpeg": "image/jpeg"}
EXTENSIONS = {"pdf": ".pdf", "png": ".png", "jpeg": ".jpg"}
_STORED_NAME = set("0123456789abcdef")


def sniff(head: bytes):
    """The file type by its first bytes, or None."""
    for kind, magics in SIGNATURES.items():
        if any(head.startswith(m) for m in magics):
            return kind
    return None


def save_upload(file_storage, *, allowed=("pdf", "png", "jpeg"), max_bytes=None, field="document", area="docs"):
    """Validate and store an uploaded file; return (stored_name, kind, size, original_name).

    The client's file name and Content-Type are never trusted: the type comes from
    the content and the stored name is random, so no path can be smuggled in.
    """
    max_bytes = max_bytes or current_app.config["UPLOAD_MAX_BYTES"]
    if file_storage is None or not getattr(file_storage, "filename", None):
        raise ValidationError(_("请选择要上传的文件"), {field: _("必填")})
    data = file_storage.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValidationError(_("文件过大"), {field: _("不能超过 %(n)s MB", n=max_bytes // (1024 * 1024))})
    if not data:
        raise ValidationError(_("文件为空"), {field: _("文件为空")})
    kind = sniff(data[:16])
    if kind not in allowed:
        names = "、".join(k.upper() for k in allowed)
        raise ValidationError(_("文件类型不符"), {field: _("只接受 %(names)s 文件（按文件内容判断）", names=names)})
    stored = secrets.token_hex(16) + EXTENSIONS[kind]
    folder = Path(current_app.config["UPLOAD_PATH"]) / area
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / stored
    with open(path, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)
    original = os.path.basename((file_storage.filename or "").replace("\\", "/"))[:200]
    return stored, kind, len(data), original


def upload_path(stored_name, area="docs"):
    """Absolute path of a stored upload; refuses anything that is not one of our random names."""
    stem, _sep, ext = str(stored_name).partition(".")
    if len(stem) != 32 or not set(stem) <= _STORED_NAME or "." + ext not in EXTENSIONS.values():
        raise ValidationError(_("无效的文件名"))
    return Path(current_app.config["UPLOAD_PATH"]) / area / stored_name


def send_upload(stored_name, download_stem, *, area="docs"):
    """Serve a stored upload as a download named ``download_stem`` + its extension, never cached.
    The caller has checked who may see it; a missing file is a 404 (``NotFound``)."""
    if not stored_name:
        raise NotFound(_("文件不存在"))
    path = upload_path(stored_name, area=area)
    if not path.exists():
        raise NotFound(_("文件不存在"))
    return send_file(path, mimetype=mimetype_of(stored_name), as_attachment=True, max_age=0,
                     download_name=f"{download_stem}{path.suffix}")


def mimetype_of(stored_name):
    ext = "." + str(stored_name).rpartition(".")[2]
    for kind, e in EXTENSIONS.items():
        if e == ext:
            return MIMETYPES[kind]
    return "application/octet-stream"
