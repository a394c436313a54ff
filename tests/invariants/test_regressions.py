"""Regression tests for bugs the invariant machine found (see docs/security.md, "Findings")."""
import pytest

from escrow import trading
from marketplace.kernel.errors import Conflict
from marketplace.kernel.extensions import db
from tests import factories


def test_services_raise_domain_errors_outside_a_request(app):
    """Bug: ``select_locale`` read ``request.args``, so a translated error raised by a service run outside a
    request (CLI, deadline job, a worker) was a RuntimeError instead of the domain error."""
    listing = factories.make_listing(status="reserved")
    buyer = factories.make_user("buyer")
    db.session.commit()
    with pytest.raises(Conflict):
        trading.buy_now(listing.id, buyer, "assignment")
