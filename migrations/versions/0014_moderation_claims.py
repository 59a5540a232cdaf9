"""moderation claims: "being reviewed by X" on the moderation desk

Revision ID: 0014
Revises: 0010
Create Date: 2026-11-30 23:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('moderation_claim',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_kind', sa.String(length=30), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('moderator_id', sa.Integer(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['moderator_id'], ['user_account.id'], name=op.f('fk_moderation_claim_moderator_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_claim')),
    sa.UniqueConstraint('subject_kind', 'subject_id', name=op.f('uq_moderation_claim_subject_kind'))
    )
    with op.batch_alter_table('moderation_claim', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_moderation_claim_moderator_id'), ['moderator_id'], unique=False)


def downgrade():
    with op.batch_alter_table('moderation_claim', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_moderation_claim_moderator_id'))
    op.drop_table('moderation_claim')
