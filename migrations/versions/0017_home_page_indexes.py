"""home page indexes: the latest published reviews of the shop, the liveliest public topics

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 03:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.create_index('ix_review_status_published', ['status', 'published_at'], unique=False)
    with op.batch_alter_table('forum_topic', schema=None) as batch_op:
        batch_op.create_index('ix_forum_topic_public_activity', ['is_public', 'last_activity_at'], unique=False)


def downgrade():
    with op.batch_alter_table('forum_topic', schema=None) as batch_op:
        batch_op.drop_index('ix_forum_topic_public_activity')
    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.drop_index('ix_review_status_published')
