"""search: outbox of index changes; PostgreSQL full-text tables for SEARCH_BACKEND=postgres

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 09:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('search_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('op', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.CheckConstraint("op IN ('index', 'delete')", name=op.f('ck_search_outbox_op_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_outbox'))
    )
    with op.batch_alter_table('search_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_search_outbox_due', ['next_attempt_at'], unique=False)

    if op.get_bind().dialect.name != 'postgresql':
        return
    # The index of the PostgreSQL backend (forum/search/pg_backend.py). Only the
    # searchable vector and the filter columns are kept: result text is read
    # from the content tables, so removed text lives nowhere here.
    op.create_table('search_document',
    sa.Column('doc_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('grp', sa.String(length=10), nullable=False),
    sa.Column('product_sku', sa.String(length=64), nullable=True),
    sa.Column('category', sa.String(length=100), nullable=True),
    sa.Column('published_at', sa.DateTime(), nullable=False),
    sa.Column('tsv', postgresql.TSVECTOR(), nullable=False),
    sa.PrimaryKeyConstraint('doc_id', name=op.f('pk_search_document'))
    )
    op.create_index('ix_search_document_tsv', 'search_document', ['tsv'], postgresql_using='gin')
    op.create_index('ix_search_document_grp_published', 'search_document', ['grp', 'published_at'])
    op.create_index('ix_search_document_product_sku', 'search_document', ['product_sku'])
    op.create_index('ix_search_document_category', 'search_document', ['category'])
    # Words seen in indexed text, for "did you mean" suggestions.
    op.create_table('search_term',
    sa.Column('term', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('term', name=op.f('pk_search_term'))
    )


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_table('search_term')
        op.drop_index('ix_search_document_category', table_name='search_document')
        op.drop_index('ix_search_document_product_sku', table_name='search_document')
        op.drop_index('ix_search_document_grp_published', table_name='search_document')
        op.drop_index('ix_search_document_tsv', table_name='search_document')
        op.drop_table('search_document')
    with op.batch_alter_table('search_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_search_outbox_due')
    op.drop_table('search_outbox')
