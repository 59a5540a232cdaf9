"""transparency log: public entries, Merkle nodes, signed checkpoints, cosignatures

Leaves, nodes, pseudonyms, signed checkpoints, cosignatures and key hand-overs. Log rows from before this revision become leaves on the next
append or `flask log checkpoint` (the app computes them; migrations import no app code).

Revision ID: 0015
Revises: 0012
Create Date: 2026-11-30 22:21:32.409895

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('log_checkpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('origin', sa.String(length=200), nullable=False),
    sa.Column('tree_size', sa.Integer(), nullable=False),
    sa.Column('root_hash', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_checkpoint')),
    sa.UniqueConstraint('origin', 'tree_size', name=op.f('uq_log_checkpoint_origin'))
    )
    with op.batch_alter_table('log_checkpoint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_checkpoint_created_at'), ['created_at'], unique=False)

    op.create_table('log_key_handover',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('old_key', sa.String(length=300), nullable=False),
    sa.Column('new_key', sa.String(length=300), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_key_handover'))
    )
    op.create_table('log_leaf',
    sa.Column('idx', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('entry', sa.Text(), nullable=False),
    sa.Column('leaf_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('idx', name=op.f('pk_log_leaf')),
    sa.UniqueConstraint('seq', name=op.f('uq_log_leaf_seq'))
    )
    op.create_table('log_node',
    sa.Column('level', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('level', 'idx', name=op.f('pk_log_node'))
    )
    op.create_table('log_pseudonym',
    sa.Column('actor_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('pseudonym', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('actor_id', name=op.f('pk_log_pseudonym')),
    sa.UniqueConstraint('pseudonym', name=op.f('uq_log_pseudonym_pseudonym'))
    )
    op.create_table('log_cosignature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('checkpoint_id', sa.Integer(), nullable=False),
    sa.Column('witness', sa.String(length=200), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.Column('line', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['log_checkpoint.id'], name=op.f('fk_log_cosignature_checkpoint_id_log_checkpoint')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_cosignature')),
    sa.UniqueConstraint('checkpoint_id', 'witness', name=op.f('uq_log_cosignature_checkpoint_id'))
    )
    with op.batch_alter_table('log_cosignature', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_cosignature_checkpoint_id'), ['checkpoint_id'], unique=False)



def downgrade():
    with op.batch_alter_table('log_cosignature', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_cosignature_checkpoint_id'))

    op.drop_table('log_cosignature')
    op.drop_table('log_pseudonym')
    op.drop_table('log_node')
    op.drop_table('log_leaf')
    op.drop_table('log_key_handover')
    with op.batch_alter_table('log_checkpoint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_checkpoint_created_at'))

    op.drop_table('log_checkpoint')
