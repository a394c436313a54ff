"""Deal documents: served only to the deal's buyer, seller and operators.

Files are stored by ``marketplace.kernel.uploads`` (type by content, random names, outside
static files) under the ``deals`` area; ``escrow.deals`` creates the rows.
"""
from flask_babel import gettext as _

from marketplace.kernel.errors import NotFound
from marketplace.kernel.extensions import db
from marketplace.kernel.uploads import MIMETYPES, upload_path

from .deals import get_deal_for
from .models import Document

AREA = "deals"
_EXT = {"pdf": "pdf", "png": "png", "jpeg": "jpg"}


def document_for(deal_id, document_id, user):
    """``(document, path)`` if ``user`` may see the deal; 404 otherwise (never says which)."""
    deal = get_deal_for(deal_id, user)
    document = db.session.get(Document, document_id)
    if document is None or document.deal_id != deal.id:
        raise NotFound(_("文件不存在"))
    path = upload_path(document.stored_name, area=AREA)
    if not path.is_file():
        raise NotFound(_("文件不存在"))
    return document, path


def mimetype(document):
    return MIMETYPES[document.file_type]


def download_name(document):
    return f"deal-{document.deal_id}-{document.kind}-{document.id}.{_EXT[document.file_type]}"
