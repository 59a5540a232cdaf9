"""removal requests: requests, the items they name, their timeline

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 09:00:00

The CHECK constraint ck_removal_request_item_refusal_has_reason makes a
refusal without a reason impossible even for SQL written by hand.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# Space, tab, CR and LF: a blank explanation is not an explanation.
WHITESPACE = " \t\r\n"
REQUEST_STATES = "'unconfirmed', 'open', 'completed', 'partially_completed', 'refused', 'closed'"
REFUSAL_REASONS = ("'not_requester_content', 'legal_obligation', 'legal_claims', "
                   "'public_interest', 'identity_unverified'")
CLOSE_REASONS = "'nothing_found', 'duplicate'"


def upgrade():
    op.create_table('removal_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('scope', sa.String(length=20), nullable=False),
    sa.Column('removal_kind', sa.String(length=20), nullable=False),
    sa.Column('links_text', sa.Text(), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('confirm_token_hash', sa.String(length=64), nullable=True),
    sa.Column('confirm_expires_at', sa.DateTime(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('status_token_hash', sa.String(length=64), nullable=True),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('extension_days', sa.Integer(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('close_reason', sa.String(length=40), nullable=True),
    sa.Column('close_explanation', sa.Text(), nullable=True),
    sa.CheckConstraint(f"status IN ({REQUEST_STATES})", name=op.f('ck_removal_request_status_known')),
    sa.CheckConstraint("scope IN ('links', 'everything')", name=op.f('ck_removal_request_scope_known')),
    sa.CheckConstraint("removal_kind IN ('whole', 'personal_info')", name=op.f('ck_removal_request_removal_kind_known')),
    sa.CheckConstraint('extension_days BETWEEN 0 AND 60', name=op.f('ck_removal_request_extension_at_most_60_days')),
    sa.CheckConstraint(
        f"status <> 'closed' OR (close_reason IS NOT NULL AND close_reason IN ({CLOSE_REASONS}) "
        f"AND close_explanation IS NOT NULL AND length(trim(close_explanation, '{WHITESPACE}')) > 0)",
        name=op.f('ck_removal_request_closed_with_reason')),
    sa.CheckConstraint("status = 'unconfirmed' OR (confirmed_at IS NOT NULL AND due_at IS NOT NULL)",
                       name=op.f('ck_removal_request_confirmed_has_due_date')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user_account.id'], name=op.f('fk_removal_request_closed_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_removal_request')),
    sa.UniqueConstraint('confirm_token_hash', name=op.f('uq_removal_request_confirm_token_hash')),
    sa.UniqueConstraint('reference', name=op.f('uq_removal_request_reference')),
    sa.UniqueConstraint('status_token_hash', name=op.f('uq_removal_request_status_token_hash'))
    )
    with op.batch_alter_table('removal_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_removal_request_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_removal_request_status'), ['status'], unique=False)
        batch_op.create_index('ix_removal_request_status_due', ['status', 'due_at'], unique=False)

    op.create_table('removal_request_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['removal_request.id'], name=op.f('fk_removal_request_event_request_id_removal_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_removal_request_event'))
    )
    with op.batch_alter_table('removal_request_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_removal_request_event_request_id'), ['request_id'], unique=False)

    op.create_table('removal_request_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('source_url', sa.Text(), nullable=True),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('decision', sa.String(length=20), nullable=True),
    sa.Column('refusal_reason', sa.String(length=40), nullable=True),
    sa.Column('refusal_explanation', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("decision IS NULL OR decision IN ('removed', 'refused')", name=op.f('ck_removal_request_item_decision_known')),
    sa.CheckConstraint(
        f"decision IS NULL OR decision <> 'refused' OR ("
        f"refusal_reason IS NOT NULL AND refusal_reason IN ({REFUSAL_REASONS}) AND refusal_explanation IS NOT NULL "
        f"AND length(trim(refusal_explanation, '{WHITESPACE}')) > 0)",
        name=op.f('ck_removal_request_item_refusal_has_reason')),
    sa.CheckConstraint('(decision IS NULL) = (decided_at IS NULL)', name=op.f('ck_removal_request_item_decided_at_with_decision')),
    sa.ForeignKeyConstraint(['added_by_id'], ['user_account.id'], name=op.f('fk_removal_request_item_added_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_removal_request_item_decided_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['request_id'], ['removal_request.id'], name=op.f('fk_removal_request_item_request_id_removal_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_removal_request_item')),
    sa.UniqueConstraint('request_id', 'kind', 'item_id', name=op.f('uq_removal_request_item_one_row_per_item'))
    )
    with op.batch_alter_table('removal_request_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_removal_request_item_request_id'), ['request_id'], unique=False)


def downgrade():
    with op.batch_alter_table('removal_request_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_removal_request_item_request_id'))
    op.drop_table('removal_request_item')
    with op.batch_alter_table('removal_request_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_removal_request_event_request_id'))
    op.drop_table('removal_request_event')
    with op.batch_alter_table('removal_request', schema=None) as batch_op:
        batch_op.drop_index('ix_removal_request_status_due')
        batch_op.drop_index(batch_op.f('ix_removal_request_status'))
        batch_op.drop_index(batch_op.f('ix_removal_request_email'))
    op.drop_table('removal_request')
