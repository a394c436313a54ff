"""Two-way matching through the outbox drain (`flask search sync`), never in the request; answers."""
import pytest
from sqlalchemy import func, select

from demand import answers, matching, wanted
from demand.models import DemandMatch, DemandMessage, WantedAnswer
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.models import Notification
from tests import factories


def _sync(runner):
    result = runner.invoke(args=["search", "sync"])
    assert result.exit_code == 0, result.output


def _notes(user, kind="wanted_match"):
    db.session.expire_all()
    return db.session.scalars(select(Notification).where(Notification.user_id == user.id,
                                                         Notification.kind == kind)).all()


@pytest.mark.inline_jobs  # the embedded mode's split: indexed in the request, matched at the next sync
def test_new_listing_matches_an_open_ad_and_both_sides_are_told(runner, people, published_ad):
    ad = published_ad()
    _sync(runner)  # the ad is matched against the (empty) market and leaves the queue
    assert not db.session.get(type(ad), ad.id).match_pending
    listing = factories.make_listing(people.seller, title="高镍锂电池正极材料及其制备方法")
    other = factories.make_listing(people.other_seller, kind="trademark")  # a trademark: not for a patent ad
    db.session.commit()
    assert db.session.scalar(select(func.count(DemandMatch.id))) == 0  # not in the request
    _sync(runner)
    matches = matching.matches_for_ad(ad)
    assert [m.listing_id for m in matches] == [listing.id]
    reasons = matches[0].reasons
    assert "锂电池" in reasons["words"] and reasons["classes"] == ["H01M 4/36"] and reasons["in_budget"]
    assert other.id not in [m.listing_id for m in matches]
    assert len(_notes(people.buyer)) == 1 and len(_notes(people.seller)) == 1
    _sync(runner)  # re-applying the outbox does not match or notify twice
    factories.make_listing(people.seller, title="一种电动牙刷", deal_types=("assignment",))  # no shared word...
    db.session.commit()
    _sync(runner)
    assert len(_notes(people.buyer)) == 2  # ...but its IPC code H01M 4/36 is in the ad's field: a class match
    assert [m.listing.title for m in matching.matches_for_seller(people.seller)]


def test_new_ad_matches_published_listings_with_ranking(runner, people, published_ad):
    strong = factories.make_listing(people.seller, title="锂电池正极材料专利包")
    licence_only = factories.make_listing(people.other_seller, deal_types=("non_exclusive_license",))
    db.session.commit()
    _sync(runner)
    ad = published_ad()
    assert ad.match_pending
    _sync(runner)
    ids = [m.listing_id for m in matching.matches_for_ad(ad)]
    assert ids == [strong.id]  # the licence-only listing offers no deal type the buyer wants
    assert licence_only.id not in ids


def test_own_side_listings_never_match(runner, people, published_ad):
    colleague = factories.make_user("seller", org=people.buyer.organization)
    factories.make_listing(colleague)
    db.session.commit()
    ad = published_ad()
    _sync(runner)
    assert matching.matches_for_ad(ad) == []


def test_trademark_ad_matches_by_nice_class(runner, people, published_ad):
    mark = factories.make_listing(people.seller, kind="trademark", price_mode="negotiable", price=None)
    db.session.commit()
    ad = published_ad(kind="trademark", ipc=None, nice_classes=[9], keywords=[], title="求购第九类商标")
    miss = published_ad(kind="trademark", ipc=None, nice_classes=[30], keywords=[], title="求购第三十类商标")
    _sync(runner)
    assert [m.listing_id for m in matching.matches_for_ad(ad)] == [mark.id]
    assert matching.matches_for_ad(ad)[0].reasons["classes"] == ["第9类"]
    assert matching.matches_for_ad(miss) == []


def _counts():
    db.session.expire_all()
    return (db.session.scalar(select(func.count(WantedAnswer.id))), db.session.scalar(select(func.count(DemandMessage.id))))


def test_seller_answers_and_the_two_talk(people, published_ad):
    ad = published_ad()
    listing = factories.make_listing(people.seller)
    foreign = factories.make_listing(people.other_seller)
    db.session.commit()
    for who, listing_id, err in ((people.seller, foreign.id, NotFound), (people.buyer, listing.id, PermissionDenied),
                                 (people.seller, listing.id, ValidationError)):
        before = _counts()
        with pytest.raises(err):
            answers.answer(ad.id, who, listing_id, "" if err is ValidationError else "您好")
        db.session.rollback()
        assert _counts() == before
    row = answers.answer(ad.id, people.seller, listing.id, "我方专利完全符合，欢迎洽谈")
    db.session.commit()
    assert len(_notes(people.buyer, "wanted_answer")) == 1
    with pytest.raises(Conflict):
        answers.answer(ad.id, people.seller, listing.id, "再次回应")
    db.session.rollback()
    answers.post_message(row.id, people.buyer, "请提供检测报告")
    db.session.commit()
    with pytest.raises(NotFound):
        answers.post_message(row.id, people.other_buyer, "我也想看")
    db.session.rollback()
    assert _counts() == (1, 2)
    assert [r.id for r in answers.answers_for(ad, people.other_seller)] == []
    wanted.close(ad.id, people.buyer)
    db.session.commit()
    with pytest.raises(Conflict):  # a closed ad takes no new answers
        answers.answer(ad.id, people.seller, factories.make_listing(people.seller).id, "还有一件")


def test_stats_count_posted_matched_and_converted(client, runner, people, published_ad):
    from demand.stats import summary
    from escrow import deals

    ad = published_ad()
    published_ad(title="求购一种无关的专利", keywords=["风力发电机"], ipc="F03D")
    listing = factories.make_listing(people.seller)
    db.session.commit()
    _sync(runner)
    assert summary() == {"posted": 2, "matched": 1, "converted": 0}
    deals.open_deal(listing, people.other_buyer, listing.price, "assignment", "purchase")  # not the ad's buyer
    db.session.commit()
    assert summary()["converted"] == 0
    listing2 = factories.make_listing(people.seller)
    db.session.commit()
    _sync(runner)
    deals.open_deal(listing2, people.buyer, listing2.price, "assignment", "purchase")
    db.session.commit()
    assert summary() == {"posted": 2, "matched": 1, "converted": 1}
    page = client.get("/stats").get_data(as_text=True)
    assert 'id="stat-wanted-converted">1<' in page
    assert ad.id
