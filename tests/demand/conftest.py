"""Fixtures for the demand side: a published patent listing of a seller, a buyer, an operator, and a helper
that posts a wanted ad and has it approved."""
import io

import pytest
from werkzeug.datastructures import FileStorage

from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import local, utcnow
from tests import factories


def future(days=30):
    from datetime import timedelta

    return (local(utcnow()).date() + timedelta(days=days)).isoformat()


def ad_body(**changes):
    body = {"kind": "patent", "title": "求购锂电池正极材料专利", "description": "用于动力电池量产",
            "keywords": ["锂电池", "正极材料"], "ipc": "H01M", "deal_types": ["assignment"],
            "budget_min": 100_000_00, "budget_max": 2_000_000_00, "region": "shenzhen", "expires_at": future()}
    body.update(changes)
    return body


def pdf_bytes(pages=2):
    from demand.watermark import quiet_import

    PdfWriter = quiet_import("pypdf").PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_bytes(size=(200, 120)):
    from demand.watermark import quiet_import

    Image = quiet_import("PIL.Image")

    out = io.BytesIO()
    Image.new("RGB", size, (255, 255, 255)).save(out, "PNG")
    return out.getvalue()


def upload(data, name):
    return FileStorage(stream=io.BytesIO(data), filename=name)


@pytest.fixture
def people(app):
    class People:
        seller = factories.make_user("seller")
        other_seller = factories.make_user("seller")
        buyer = factories.make_user("buyer", org=factories.make_org(verified=True))
        other_buyer = factories.make_user("buyer")
        operator = factories.make_user("operator")

    db.session.commit()
    return People


@pytest.fixture
def published_ad(people):
    from demand import wanted

    def make(user=None, **changes):
        ad = wanted.post(user or people.buyer, ad_body(**changes))
        wanted.review(ad.id, people.operator, "approve")
        db.session.commit()
        return ad

    return make
