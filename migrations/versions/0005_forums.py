"""forums (categories, topics, posts, revisions), content flags and member suspensions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('forum_category',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_category')),
    sa.UniqueConstraint('slug', name=op.f('uq_forum_category_slug'))
    )

    op.create_table('forum_topic',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('pinned', sa.Boolean(), nullable=False),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_forum_topic_author_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['category_id'], ['forum_category.id'], name=op.f('fk_forum_topic_category_id_forum_category')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_topic'))
    )
    with op.batch_alter_table('forum_topic', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forum_topic_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_forum_topic_category_id'), ['category_id'], unique=False)
        batch_op.create_index('ix_forum_topic_category_pinned', ['category_id', 'pinned'], unique=False)

    op.create_table('forum_post',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('is_opening', sa.Boolean(), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('edited_at', sa.DateTime(), nullable=True),
    sa.Column('held_because', sa.String(length=40), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decision_reason', sa.String(length=40), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(NOT is_opening AND title IS NULL) OR (is_opening AND (title IS NOT NULL OR status IN ('removed', 'withdrawn')))", name=op.f('ck_forum_post_title_on_opening_only')),
    sa.CheckConstraint("body IS NOT NULL OR status IN ('removed', 'withdrawn')", name=op.f('ck_forum_post_text_kept_unless_gone')),
    sa.CheckConstraint("status IN ('pending', 'published', 'rejected', 'withdrawn', 'hidden', 'removed', 'superseded')", name=op.f('ck_forum_post_status_known')),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_forum_post_author_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_forum_post_decided_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['topic_id'], ['forum_topic.id'], name=op.f('fk_forum_post_topic_id_forum_topic')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_post'))
    )
    with op.batch_alter_table('forum_post', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forum_post_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_forum_post_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_forum_post_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_forum_post_topic_id'), ['topic_id'], unique=False)
        batch_op.create_index('ix_forum_post_topic_status_created', ['topic_id', 'status', 'created_at'], unique=False)
        batch_op.create_index('uq_forum_post_one_opening', ['topic_id'], unique=True,
                              sqlite_where=sa.text('is_opening'), postgresql_where=sa.text('is_opening'))

    op.create_table('forum_post_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('edited_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['forum_post.id'], name=op.f('fk_forum_post_revision_post_id_forum_post'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_post_revision'))
    )
    with op.batch_alter_table('forum_post_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forum_post_revision_post_id'), ['post_id'], unique=False)

    op.create_table('content_flag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=30), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolution', sa.String(length=20), nullable=True),
    sa.CheckConstraint("reason IN ('spam', 'abusive', 'personal_information', 'off_topic')", name=op.f('ck_content_flag_reason_known')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['user_account.id'], name=op.f('fk_content_flag_resolved_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_content_flag_user_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content_flag')),
    sa.UniqueConstraint('kind', 'item_id', 'user_id', name='one_per_member')
    )
    with op.batch_alter_table('content_flag', schema=None) as batch_op:
        batch_op.create_index('ix_content_flag_open', ['kind', 'item_id', 'resolved_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_content_flag_user_id'), ['user_id'], unique=False)

    op.create_table('member_suspension',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('lifted_at', sa.DateTime(), nullable=True),
    sa.Column('lifted_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('length(reason) > 0', name=op.f('ck_member_suspension_reason_given')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_member_suspension_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lifted_by_id'], ['user_account.id'], name=op.f('fk_member_suspension_lifted_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_member_suspension_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_suspension'))
    )
    with op.batch_alter_table('member_suspension', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_suspension_ends_at'), ['ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_member_suspension_user_id'), ['user_id'], unique=False)


def downgrade():
    op.drop_table('member_suspension')
    op.drop_table('content_flag')
    op.drop_table('forum_post_revision')
    op.drop_table('forum_post')
    op.drop_table('forum_topic')
    op.drop_table('forum_category')
