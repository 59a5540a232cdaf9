"""orders, invitations, review facts, votes, photos, company replies

Revision ID: 0012
Revises: 0008
Create Date: 2026-11-30 22:18:38.054553

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('invitation_opt_out',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation_opt_out')),
    sa.UniqueConstraint('email_hash', name=op.f('uq_invitation_opt_out_email_hash'))
    )
    op.create_table('shop_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_ref', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('ordered_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shop_order')),
    sa.UniqueConstraint('order_ref', name=op.f('uq_shop_order_order_ref'))
    )
    with op.batch_alter_table('shop_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shop_order_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_shop_order_ordered_at'), ['ordered_at'], unique=False)

    op.create_table('email_confirmation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_email_confirmation_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_confirmation')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_email_confirmation_token_hash'))
    )
    with op.batch_alter_table('email_confirmation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_confirmation_user_id'), ['user_id'], unique=False)

    op.create_table('review_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('email_hash', sa.String(length=64), nullable=True),
    sa.Column('opt_out_token_hash', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("status IN ('sent', 'opted_out', 'no_products', 'too_old')", name=op.f('ck_review_invitation_status_known')),
    sa.ForeignKeyConstraint(['order_id'], ['shop_order.id'], name=op.f('fk_review_invitation_order_id_shop_order'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_invitation')),
    sa.UniqueConstraint('opt_out_token_hash', name=op.f('uq_review_invitation_opt_out_token_hash')),
    sa.UniqueConstraint('order_id', name=op.f('uq_review_invitation_order_id'))
    )
    with op.batch_alter_table('review_invitation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_invitation_created_at'), ['created_at'], unique=False)

    op.create_table('shop_order_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['shop_order.id'], name=op.f('fk_shop_order_item_order_id_shop_order'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shop_order_item')),
    sa.UniqueConstraint('order_id', 'sku', name='uq_shop_order_item_sku')
    )
    with op.batch_alter_table('shop_order_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shop_order_item_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shop_order_item_sku'), ['sku'], unique=False)

    op.create_table('company_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=False),
    sa.Column('edited_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_company_reply_author_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['review_id'], ['review.id'], name=op.f('fk_company_reply_review_id_review'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_reply')),
    sa.UniqueConstraint('review_id', name=op.f('uq_company_reply_review_id'))
    )
    op.create_table('review_facts',
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('verified_purchase', sa.Boolean(), nullable=False),
    sa.Column('from_invitation', sa.Boolean(), nullable=False),
    sa.Column('photo_count', sa.Integer(), nullable=False),
    sa.Column('helpful_count', sa.Integer(), nullable=False),
    sa.CheckConstraint('helpful_count >= 0', name=op.f('ck_review_facts_helpful_count_not_negative')),
    sa.ForeignKeyConstraint(['review_id'], ['review.id'], name=op.f('fk_review_facts_review_id_review'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('review_id', name=op.f('pk_review_facts'))
    )
    op.create_table('review_helpful_vote',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['review.id'], name=op.f('fk_review_helpful_vote_review_id_review'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_review_helpful_vote_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_helpful_vote')),
    sa.UniqueConstraint('review_id', 'user_id', name='uq_review_helpful_vote_once')
    )
    with op.batch_alter_table('review_helpful_vote', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_helpful_vote_review_id'), ['review_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_helpful_vote_user_id'), ['user_id'], unique=False)

    op.create_table('review_invitation_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['invitation_id'], ['review_invitation.id'], name=op.f('fk_review_invitation_link_invitation_id_review_invitation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_invitation_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_review_invitation_link_token_hash'))
    )
    with op.batch_alter_table('review_invitation_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_invitation_link_invitation_id'), ['invitation_id'], unique=False)

    op.create_table('review_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.String(length=80), nullable=False),
    sa.Column('content_type', sa.String(length=20), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['review.id'], name=op.f('fk_review_photo_review_id_review'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_photo')),
    sa.UniqueConstraint('review_id', 'position', name='uq_review_photo_position')
    )
    with op.batch_alter_table('review_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_photo_review_id'), ['review_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_photo_sha256'), ['sha256'], unique=False)

    op.create_table('company_reply_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reply_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('written_at', sa.DateTime(), nullable=False),
    sa.Column('replaced_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_company_reply_revision_author_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reply_id'], ['company_reply.id'], name=op.f('fk_company_reply_revision_reply_id_company_reply'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_reply_revision'))
    )
    with op.batch_alter_table('company_reply_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_company_reply_revision_reply_id'), ['reply_id'], unique=False)



def downgrade():
    with op.batch_alter_table('company_reply_revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_company_reply_revision_reply_id'))

    op.drop_table('company_reply_revision')
    with op.batch_alter_table('review_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_photo_sha256'))
        batch_op.drop_index(batch_op.f('ix_review_photo_review_id'))

    op.drop_table('review_photo')
    with op.batch_alter_table('review_invitation_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_invitation_link_invitation_id'))

    op.drop_table('review_invitation_link')
    with op.batch_alter_table('review_helpful_vote', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_helpful_vote_user_id'))
        batch_op.drop_index(batch_op.f('ix_review_helpful_vote_review_id'))

    op.drop_table('review_helpful_vote')
    op.drop_table('review_facts')
    op.drop_table('company_reply')
    with op.batch_alter_table('shop_order_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shop_order_item_sku'))
        batch_op.drop_index(batch_op.f('ix_shop_order_item_order_id'))

    op.drop_table('shop_order_item')
    with op.batch_alter_table('review_invitation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_invitation_created_at'))

    op.drop_table('review_invitation')
    with op.batch_alter_table('email_confirmation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_confirmation_user_id'))

    op.drop_table('email_confirmation')
    with op.batch_alter_table('shop_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shop_order_ordered_at'))
        batch_op.drop_index(batch_op.f('ix_shop_order_email'))

    op.drop_table('shop_order')
    op.drop_table('invitation_opt_out')
