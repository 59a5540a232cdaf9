"""blog posts and moderated blog comments

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('blog_post',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("status = 'draft' OR published_at IS NOT NULL", name=op.f('ck_blog_post_published_has_date')),
    sa.CheckConstraint("status IN ('draft', 'published', 'unpublished')", name=op.f('ck_blog_post_status_known')),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_blog_post_author_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_blog_post')),
    sa.UniqueConstraint('slug', name=op.f('uq_blog_post_slug'))
    )
    with op.batch_alter_table('blog_post', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_blog_post_author_id'), ['author_id'], unique=False)
        batch_op.create_index('ix_blog_post_status_published', ['status', 'published_at'], unique=False)

    op.create_table('blog_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
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
    sa.CheckConstraint("body IS NOT NULL OR status = 'removed'", name=op.f('ck_blog_comment_text_kept_unless_removed')),
    sa.CheckConstraint("status IN ('pending', 'published', 'rejected', 'withdrawn', 'hidden', 'removed', 'superseded')", name=op.f('ck_blog_comment_status_known')),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_blog_comment_author_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_blog_comment_decided_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['post_id'], ['blog_post.id'], name=op.f('fk_blog_comment_post_id_blog_post')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_blog_comment'))
    )
    with op.batch_alter_table('blog_comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_blog_comment_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_blog_comment_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_blog_comment_post_id'), ['post_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_blog_comment_status'), ['status'], unique=False)
        batch_op.create_index('ix_blog_comment_post_status_published', ['post_id', 'status', 'published_at'], unique=False)


def downgrade():
    with op.batch_alter_table('blog_comment', schema=None) as batch_op:
        batch_op.drop_index('ix_blog_comment_post_status_published')
        batch_op.drop_index(batch_op.f('ix_blog_comment_status'))
        batch_op.drop_index(batch_op.f('ix_blog_comment_post_id'))
        batch_op.drop_index(batch_op.f('ix_blog_comment_created_at'))
        batch_op.drop_index(batch_op.f('ix_blog_comment_author_id'))
    op.drop_table('blog_comment')
    with op.batch_alter_table('blog_post', schema=None) as batch_op:
        batch_op.drop_index('ix_blog_post_status_published')
        batch_op.drop_index(batch_op.f('ix_blog_post_author_id'))
    op.drop_table('blog_post')
