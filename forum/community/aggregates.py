"""Forum aggregates kept on the rows that pages list.

- topic: `is_public` (its opening post is published), `post_count` and
  `reply_count` (published posts), `last_activity_at` and `last_author_id`
  (the latest published post);
- category: `topic_count`, `post_count` and `last_activity_at` over its public topics.

Every change of a post's status goes through `moderation.services.transition`;
the kind's `on_transition` hook `keep_forum_aggregates` recomputes the topic
and its category in the same transaction. Moving a topic recomputes both
categories (`recount_categories`). `flask recount` rebuilds everything.
"""

from __future__ import annotations

from sqlalchemy import and_, case, func, select, update

from forum.extensions import db
from forum.speed.counters import Counter, diff_rows, lock_rows, register_counter
from moderation.states import PUBLISHED

from .models import ForumCategory, ForumPost, ForumTopic

TOPIC_COLUMNS = ("is_public", "post_count", "reply_count", "last_activity_at", "last_author_id")
CATEGORY_COLUMNS = ("topic_count", "post_count", "last_activity_at")


def _counted_topics(topic_ids=None) -> dict[int, tuple]:
    """{topic id: (is_public, posts, replies, last published_at, its author)} from the posts."""
    published = ForumPost.status == PUBLISHED
    totals = select(
        ForumPost.topic_id,
        func.max(case((and_(ForumPost.is_opening.is_(True), published), 1), else_=0)),
        func.sum(case((published, 1), else_=0)),
        func.sum(case((and_(ForumPost.is_opening.is_(False), published), 1), else_=0)),
    ).group_by(ForumPost.topic_id)
    ranked = select(
        ForumPost.topic_id,
        ForumPost.published_at,
        ForumPost.author_id,
        func.row_number()
        .over(partition_by=ForumPost.topic_id, order_by=(ForumPost.published_at.desc(), ForumPost.id.desc()))
        .label("rank"),
    ).where(published)
    if topic_ids is not None:
        ids = list(topic_ids)
        totals = totals.where(ForumPost.topic_id.in_(ids))
        ranked = ranked.where(ForumPost.topic_id.in_(ids))
    ranked_rows = ranked.subquery()
    latest = {
        tid: (at, author)
        for tid, at, author in db.session.execute(
            select(ranked_rows.c.topic_id, ranked_rows.c.published_at, ranked_rows.c.author_id).where(
                ranked_rows.c.rank == 1
            )
        )
    }
    result = {}
    for tid, public, posts, replies in db.session.execute(totals):
        at, author = latest.get(tid, (None, None))
        result[tid] = (bool(public), int(posts or 0), int(replies or 0), at, author)
    return result


def _counted_categories(category_ids=None) -> dict[int, tuple]:
    """{category id: (public topics, their posts, latest activity)} from the kept topic numbers."""
    query = (
        select(
            ForumTopic.category_id,
            func.count(ForumTopic.id),
            func.coalesce(func.sum(ForumTopic.post_count), 0),
            func.max(ForumTopic.last_activity_at),
        )
        .where(ForumTopic.is_public.is_(True))
        .group_by(ForumTopic.category_id)
    )
    if category_ids is not None:
        query = query.where(ForumTopic.category_id.in_(list(category_ids)))
    return {cid: (int(t), int(p), last) for cid, t, p, last in db.session.execute(query)}


EMPTY_TOPIC = (False, 0, 0, None, None)
EMPTY_CATEGORY = (0, 0, None)


def recount_categories(category_ids) -> None:
    ids = sorted({i for i in category_ids if i is not None})
    if not ids:
        return
    lock_rows(ForumCategory, ids)
    counted = _counted_categories(ids)
    for cid in ids:
        db.session.execute(
            update(ForumCategory)
            .where(ForumCategory.id == cid)
            .values(**dict(zip(CATEGORY_COLUMNS, counted.get(cid, EMPTY_CATEGORY))))
            .execution_options(synchronize_session="fetch")
        )


def recount_topics(topic_ids) -> None:
    """Recompute these topics and their categories (no commit)."""
    ids = sorted({i for i in topic_ids if i is not None})
    if not ids:
        return
    lock_rows(ForumTopic, ids)
    counted = _counted_topics(ids)
    for tid in ids:
        db.session.execute(
            update(ForumTopic)
            .where(ForumTopic.id == tid)
            .values(**dict(zip(TOPIC_COLUMNS, counted.get(tid, EMPTY_TOPIC))))
            .execution_options(synchronize_session="fetch")
        )
    recount_categories(db.session.scalars(select(ForumTopic.category_id).where(ForumTopic.id.in_(ids))))


def keep_forum_aggregates(post: ForumPost, action, actor, from_state) -> None:
    """on_transition hook: a post entered or left "published"."""
    if from_state == PUBLISHED or post.status == PUBLISHED:
        recount_topics([post.topic_id])


def _kept_topics() -> dict[int, tuple]:
    columns = [getattr(ForumTopic, name) for name in TOPIC_COLUMNS]
    return {row[0]: (bool(row[1]), *row[2:]) for row in db.session.execute(select(ForumTopic.id, *columns))}


def _kept_categories() -> dict[int, tuple]:
    columns = [getattr(ForumCategory, name) for name in CATEGORY_COLUMNS]
    return {row[0]: tuple(row[1:]) for row in db.session.execute(select(ForumCategory.id, *columns))}


def rebuild() -> int:
    kept, counted = _kept_topics(), _counted_topics()
    topics = [tid for tid in kept if kept[tid] != counted.get(tid, EMPTY_TOPIC)]
    for start in range(0, len(topics), 500):
        recount_topics(topics[start : start + 500])
    kept_c, counted_c = _kept_categories(), _counted_categories()
    categories = [cid for cid in kept_c if kept_c[cid] != counted_c.get(cid, EMPTY_CATEGORY)]
    recount_categories(categories)
    return len(topics) + len(categories)


def check() -> list[str]:
    kept, counted = _kept_topics(), _counted_topics()
    problems = diff_rows("forum topic", kept, {tid: counted.get(tid, EMPTY_TOPIC) for tid in kept})
    kept_c = _kept_categories()
    # Categories are checked against the posts themselves, not only the kept topic numbers.
    from_posts: dict[int, tuple] = {}
    topic_category = dict(db.session.execute(select(ForumTopic.id, ForumTopic.category_id)).all())
    for tid, (public, posts, _replies, last, _author) in counted.items():
        if not public:
            continue
        cid = topic_category[tid]
        t, p, latest = from_posts.get(cid, EMPTY_CATEGORY)
        from_posts[cid] = (
            t + 1,
            p + posts,
            max(x for x in (latest, last) if x is not None) if (latest or last) else None,
        )
    problems += diff_rows(
        "forum category", kept_c, {cid: from_posts.get(cid, EMPTY_CATEGORY) for cid in kept_c}
    )
    return problems


def register() -> None:
    register_counter(Counter("forums", rebuild, check))
