"""Finance desk fixtures: an SME holding a patent and a trademark, two verified banks, an operator,
a valuer and a voucher issuer. The rights come from the project's real data (tests/finance/data.py)."""
from datetime import date

import pytest

from listings.models import Right
from marketplace.kernel.extensions import db
from tests import factories


def make_patent(user, number=None, ipc="H01M 4/36", title="一种锂电池正极材料及其制备方法", filing=date(2017, 7, 21)):
    n = number or factories.unique_patent_number(700_000 + next(factories._seq))
    right = Right(kind="patent", number=n, title=title, patent_type="invention", ipc_codes=[ipc],
                  filing_date=filing, grant_date=date(2020, 3, 10), claims_count=10, legal_status="granted")
    right.holders.append(factories.holder_for(user))
    db.session.add(right)
    db.session.flush()
    return right


def make_trademark(user, number=None, nice=9):
    n = number or str(31_000_000 + next(factories._seq))
    right = Right(kind="trademark", number=n, title="星河", nice_classes=[nice], similar_groups=["0901"],
                  goods=["计算机程序"], registration_date=date(2018, 5, 7), tm_status="registered")
    right.holders.append(factories.holder_for(user))
    db.session.add(right)
    db.session.flush()
    return right


def make_bank(name="招商银行深圳分行"):
    org = factories.make_org(name=name)
    return factories.make_user("bank", org=org)


def make_issuer(name="广东省市场监督管理局（知识产权局）创新券项目"):
    org = factories.make_org(name=name, region="guangzhou")
    return factories.make_user("voucher_issuer", org=org)


class Desk:
    def __init__(self):
        self.sme = factories.make_user("seller")
        self.colleague = factories.make_user("buyer", org=self.sme.organization)
        self.other_sme = factories.make_user("seller")
        self.bank = make_bank()
        self.other_bank = make_bank("中国银行广东省分行")
        self.operator = factories.make_user("operator")
        self.valuer = factories.make_user("valuer")
        self.issuer = make_issuer()
        self.patent = make_patent(self.sme)
        self.trademark = make_trademark(self.sme)
        db.session.commit()

    def rights(self, *rights):
        return [{"kind": r.kind, "number": r.number} for r in (rights or (self.patent, self.trademark))]


@pytest.fixture
def desk(app):
    return Desk()


def api(client, user, method, path, **kw):
    headers = factories.auth_header(user) if user is not None else {}
    db.session.commit()
    response = client.open("/api/v1/finance" + path, method=method, headers=headers, **kw)
    db.session.rollback()
    db.session.expire_all()
    return response
