"""members: handles and profiles, watched topics and read marks, likes, quotes, notifications

Revision ID: 0013
Revises: 0015
Create Date: 2026-11-30 23:00:00

"""
import re
import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0015'
branch_labels = None
depends_on = None


def _handle_base(display_name):
    # Same rule as forum.members.handles.derive_handle (kept here: migrations do not import the app).
    ascii_name = unicodedata.normalize("NFKD", display_name or "").encode("ascii", "ignore").decode("ascii")
    base = re.sub(r"[^A-Za-z0-9]+", "_", ascii_name).strip("_-")[:24]
    if not base or base.isdigit() or len(base) < 2:
        base = "member"
    return base


def upgrade():
    op.create_table('member_profile',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('handle', sa.String(length=30), nullable=False),
    sa.Column('handle_key', sa.String(length=30), nullable=False),
    sa.Column('activity_hidden', sa.Boolean(), nullable=False),
    sa.CheckConstraint('length(handle) > 0', name=op.f('ck_member_profile_handle_not_empty')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_member_profile_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_member_profile')),
    sa.UniqueConstraint('handle_key', name=op.f('uq_member_profile_handle_key'))
    )

    op.create_table('forum_topic_state',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('watching', sa.Boolean(), nullable=True),
    sa.Column('read_until', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['topic_id'], ['forum_topic.id'], name=op.f('fk_forum_topic_state_topic_id_forum_topic'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_forum_topic_state_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'topic_id', name=op.f('pk_forum_topic_state'))
    )
    with op.batch_alter_table('forum_topic_state', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forum_topic_state_topic_id'), ['topic_id'], unique=False)

    op.create_table('forum_post_like',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['forum_post.id'], name=op.f('fk_forum_post_like_post_id_forum_post'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_forum_post_like_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'post_id', name=op.f('pk_forum_post_like'))
    )
    with op.batch_alter_table('forum_post_like', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forum_post_like_post_id'), ['post_id'], unique=False)

    op.create_table('forum_post_quote',
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('quoted_post_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['forum_post.id'], name=op.f('fk_forum_post_quote_post_id_forum_post'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['quoted_post_id'], ['forum_post.id'], name=op.f('fk_forum_post_quote_quoted_post_id_forum_post'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('post_id', 'quoted_post_id', name=op.f('pk_forum_post_quote'))
    )
    with op.batch_alter_table('forum_post_quote', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forum_post_quote_quoted_post_id'), ['quoted_post_id'], unique=False)

    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('subject_kind', sa.String(length=40), nullable=True),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('decision', sa.String(length=20), nullable=True),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.Column('mail_state', sa.String(length=10), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind = 'moderation' OR post_id IS NOT NULL", name=op.f('ck_notification_post_unless_decision')),
    sa.CheckConstraint("kind IN ('mention', 'quote', 'reply', 'watched', 'like', 'moderation')", name=op.f('ck_notification_kind_known')),
    sa.CheckConstraint("mail_state IN ('none', 'digest', 'sent', 'dropped')", name=op.f('ck_notification_mail_state_known')),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_notification_actor_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['outbox_id'], ['mail_outbox.id'], name=op.f('fk_notification_outbox_id_mail_outbox'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['post_id'], ['forum_post.id'], name=op.f('fk_notification_post_id_forum_post'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_notification_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification'))
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_user_created', ['user_id', 'created_at'], unique=False)
        batch_op.create_index('ix_notification_mail_state', ['mail_state'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_post_id'), ['post_id'], unique=False)
        batch_op.create_index('uq_notification_user_post', ['user_id', 'post_id'], unique=True,
                              sqlite_where=sa.text('post_id IS NOT NULL'),
                              postgresql_where=sa.text('post_id IS NOT NULL'))

    op.create_table('notification_preference',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=False),
    sa.CheckConstraint("mode IN ('immediate', 'digest', 'never')", name=op.f('ck_notification_preference_mode_known')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_notification_preference_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'kind', name=op.f('pk_notification_preference'))
    )

    # Every existing member gets a handle derived from their display name.
    conn = op.get_bind()
    taken = set()
    profiles = []
    for user_id, display_name in conn.execute(sa.text("SELECT id, display_name FROM user_account ORDER BY id")):
        base = _handle_base(display_name)
        handle, n = base, 1
        while handle.lower() in taken:
            n += 1
            handle = f"{base}{n}"
        taken.add(handle.lower())
        profiles.append({"user_id": user_id, "handle": handle, "handle_key": handle.lower(), "activity_hidden": False})
    if profiles:
        table = sa.table('member_profile', sa.column('user_id', sa.Integer), sa.column('handle', sa.String),
                         sa.column('handle_key', sa.String), sa.column('activity_hidden', sa.Boolean))
        op.bulk_insert(table, profiles)


def downgrade():
    op.drop_table('notification_preference')
    op.drop_table('notification')
    op.drop_table('forum_post_quote')
    op.drop_table('forum_post_like')
    op.drop_table('forum_topic_state')
    op.drop_table('member_profile')
