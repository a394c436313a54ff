"""Payload builders for the listings tests (the docs/api.md ``POST /listings`` shape)."""
import copy

import pytest

from marketplace.kernel.extensions import db
from tests import factories

PATENT = {
    "application_number": "201710601862.3",
    "title": "一种锂电池正极材料及其制备方法",
    "abstract": "本发明公开了一种锂电池正极材料……",
    "ipc_codes": ["H01M 4/36", "H01M4/525"],
    "filing_date": "2017-07-21",
    "grant_date": "2020-03-10",
    "claims_count": 10,
    "legal_status": "granted",
}
TRADEMARK = {
    "registration_number": "12345678",
    "mark_text": "星河",
    "nice_classes": [9, 42],
    "similar_groups": ["0901", "4220"],
    "goods": ["计算机程序（可下载软件）", "计算机软件设计"],
    "registration_date": "2018-05-07",
    "status": "registered",
}


def patent_payload(**overrides):
    right = copy.deepcopy(PATENT)
    right.update(overrides.pop("patent", {}))
    body = {"kind": "patent", "title": "锂电池正极材料发明专利转让", "description": "**高能量密度**正极材料",
            "deal_types": ["assignment", "non_exclusive_license"], "price_mode": "fixed", "price": 500_000_00,
            "rights": [{"patent": right}]}
    body.update(overrides)
    return body


def trademark_payload(**overrides):
    right = copy.deepcopy(TRADEMARK)
    right.update(overrides.pop("trademark", {}))
    body = {"kind": "trademark", "title": "“星河”商标转让（第9、42类）", "description": "软件类商标",
            "deal_types": ["assignment"], "price_mode": "negotiable", "rights": [{"trademark": right}]}
    body.update(overrides)
    return body


@pytest.fixture
def api(client):
    """api(user) -> headers with a fresh bearer token (committed)."""
    def headers(user):
        h = factories.auth_header(user)
        db.session.commit()
        return h
    return headers
