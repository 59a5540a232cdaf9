"""speed: stored HTML, page-cache versions, kept aggregates (products, topics, categories)

Revision ID: 0010
Revises: 0013
Create Date: 2026-11-30 23:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0013'
branch_labels = None
depends_on = None

STARS = [f"stars_{n}" for n in range(1, 6)]


def upgrade():
    op.create_table('rendered_text',
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('source_sha256', sa.String(length=64), nullable=False),
    sa.Column('policy', sa.Integer(), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'item_id', name=op.f('pk_rendered_text'))
    )
    op.create_table('page_version',
    sa.Column('scope', sa.String(length=30), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('scope', name=op.f('pk_page_version'))
    )
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('rating_sum', sa.Integer(), server_default='0', nullable=False))
        for name in STARS:
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('forum_category', schema=None) as batch_op:
        batch_op.add_column(sa.Column('topic_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('post_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_activity_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('forum_topic', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_public', sa.Boolean(), server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('post_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('reply_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_activity_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_author_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_forum_topic_last_author_id_user_account'), 'user_account',
                                    ['last_author_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index('ix_forum_topic_category_listing', ['category_id', 'pinned', 'last_activity_at'],
                              unique=False)

    # Fill the aggregates from the rows already there (`flask recount` does the same).
    published = "status = 'published'"
    op.execute(
        "UPDATE product SET "
        f"review_count = (SELECT count(*) FROM review r WHERE r.product_id = product.id AND r.{published}), "
        f"rating_sum = (SELECT coalesce(sum(rating), 0) FROM review r WHERE r.product_id = product.id AND r.{published}), "
        + ", ".join(
            f"stars_{n} = (SELECT count(*) FROM review r WHERE r.product_id = product.id AND r.{published} AND r.rating = {n})"
            for n in range(1, 6)
        )
    )
    op.execute(
        "UPDATE forum_topic SET "
        "is_public = EXISTS (SELECT 1 FROM forum_post p WHERE p.topic_id = forum_topic.id AND p.is_opening "
        f"AND p.{published}), "
        f"post_count = (SELECT count(*) FROM forum_post p WHERE p.topic_id = forum_topic.id AND p.{published}), "
        f"reply_count = (SELECT count(*) FROM forum_post p WHERE p.topic_id = forum_topic.id AND p.{published} "
        "AND NOT p.is_opening), "
        f"last_activity_at = (SELECT max(published_at) FROM forum_post p WHERE p.topic_id = forum_topic.id AND p.{published}), "
        "last_author_id = (SELECT p.author_id FROM forum_post p WHERE p.topic_id = forum_topic.id "
        f"AND p.{published} ORDER BY p.published_at DESC, p.id DESC LIMIT 1)"
    )
    op.execute(
        "UPDATE forum_category SET "
        "topic_count = (SELECT count(*) FROM forum_topic t WHERE t.category_id = forum_category.id AND t.is_public), "
        "post_count = (SELECT coalesce(sum(post_count), 0) FROM forum_topic t WHERE t.category_id = forum_category.id "
        "AND t.is_public), "
        "last_activity_at = (SELECT max(last_activity_at) FROM forum_topic t "
        "WHERE t.category_id = forum_category.id AND t.is_public)"
    )


def downgrade():
    with op.batch_alter_table('forum_topic', schema=None) as batch_op:
        batch_op.drop_index('ix_forum_topic_category_listing')
        batch_op.drop_constraint(batch_op.f('fk_forum_topic_last_author_id_user_account'), type_='foreignkey')
        for name in ('last_author_id', 'last_activity_at', 'reply_count', 'post_count', 'is_public'):
            batch_op.drop_column(name)
    with op.batch_alter_table('forum_category', schema=None) as batch_op:
        for name in ('last_activity_at', 'post_count', 'topic_count'):
            batch_op.drop_column(name)
    with op.batch_alter_table('product', schema=None) as batch_op:
        for name in ('review_count', 'rating_sum', *STARS):
            batch_op.drop_column(name)
    op.drop_table('page_version')
    op.drop_table('rendered_text')
