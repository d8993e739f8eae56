"""The schema as SQLAlchemy 2.0 models. Alembic migrations own the database; these match them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ENTITY_KINDS = ("PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT", "MISC")
MENTION_ROLES = ("body", "title", "byline", "dateline")
LOAD_STATUSES = ("running", "completed", "partial", "failed", "interrupted")

# The full-text vector: title weighs more than body. 'english' is a regconfig literal, so the
# expression is immutable and may back a stored generated column.
SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, body), 'B')"
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


BigPK = Annotated[int, mapped_column(BigInteger, Identity(always=False), primary_key=True)]
IntPK = Annotated[int, mapped_column(Integer, Identity(always=False), primary_key=True)]
CreatedAt = Annotated[
    dt.datetime, mapped_column(DateTime(timezone=True), server_default=func.now())
]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Source(Base):
    """A news outlet or collection that documents come from."""

    __tablename__ = "sources"

    source_id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(Text, server_default="unknown")
    homepage: Mapped[str | None] = mapped_column(Text)
    domain: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]

    documents: Mapped[list[Document]] = relationship(back_populates="source")


class Load(Base):
    """One run of ``dbapp load``: its arguments, counts and outcome."""

    __tablename__ = "loads"
    __table_args__ = (CheckConstraint(_in("status", LOAD_STATUSES), name="status"),)

    load_id: Mapped[IntPK]
    started_at: Mapped[CreatedAt]
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(Text, server_default="running")
    arguments: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    dbapp_version: Mapped[str] = mapped_column(Text)
    hostname: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)
    files_seen: Mapped[int] = mapped_column(Integer, server_default="0")
    bytes_read: Mapped[int] = mapped_column(BigInteger, server_default="0")
    documents_seen: Mapped[int] = mapped_column(Integer, server_default="0")
    documents_inserted: Mapped[int] = mapped_column(Integer, server_default="0")
    documents_duplicate: Mapped[int] = mapped_column(Integer, server_default="0")
    documents_rejected: Mapped[int] = mapped_column(Integer, server_default="0")
    mentions_inserted: Mapped[int] = mapped_column(Integer, server_default="0")
    warnings: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    error: Mapped[str | None] = mapped_column(Text)
    lock_key: Mapped[int | None] = mapped_column(BigInteger)

    rejects: Mapped[list[LoadReject]] = relationship(back_populates="load")


DELETION_STATUSES = ("running", "completed", "interrupted", "failed")


class Deletion(Base):
    """One run of ``dbapp documents delete`` or ``dbapp loads undo``: who, what, how many."""

    __tablename__ = "deletions"
    __table_args__ = (
        CheckConstraint(_in("status", DELETION_STATUSES), name="status"),
        {"comment": "One row per run of dbapp documents delete / loads undo: who, what, how many."},
    )

    deletion_id: Mapped[IntPK]
    started_at: Mapped[CreatedAt]
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(Text, server_default="running")
    criteria: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    load_id: Mapped[int | None] = mapped_column(
        ForeignKey("loads.load_id", ondelete="SET NULL"), index=True
    )
    os_user: Mapped[str | None] = mapped_column(Text)
    db_user: Mapped[str] = mapped_column(Text, server_default=text("CURRENT_USER"))
    hostname: Mapped[str | None] = mapped_column(Text)
    documents_deleted: Mapped[int] = mapped_column(Integer, server_default="0")
    mentions_deleted: Mapped[int] = mapped_column(BigInteger, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    lock_key: Mapped[int | None] = mapped_column(BigInteger)  # held while it runs


class WatchedFile(Base):
    """A file ``dbapp watch`` loaded, as it was then: a restart skips it unless it changed."""

    __tablename__ = "watched_files"
    __table_args__ = (
        {
            "comment": "Files dbapp watch has loaded, as they were (size, mtime): a restart skips "
            "them."
        },
    )

    path: Mapped[str] = mapped_column(Text, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    load_id: Mapped[int | None] = mapped_column(ForeignKey("loads.load_id", ondelete="SET NULL"))
    loaded_at: Mapped[CreatedAt]


class LoadReject(Base):
    """An input record a load could not accept, kept byte for byte so nothing is lost."""

    __tablename__ = "load_rejects"
    __table_args__ = (
        # One row per bad record, however often it is loaded (migration 0006).
        Index(
            "uq_load_rejects_record",
            text("md5(path)"),
            text("coalesce(line_number, -1)"),
            text("coalesce(record_number, -1)"),
            "error_code",
            text("coalesce(raw_sha256, '')"),
            unique=True,
        ),
    )

    load_reject_id: Mapped[BigPK]
    load_id: Mapped[int] = mapped_column(
        ForeignKey("loads.load_id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(Text)
    line_number: Mapped[int | None] = mapped_column(Integer)
    record_number: Mapped[int | None] = mapped_column(Integer)
    error_code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    raw_size: Mapped[int | None] = mapped_column(
        BigInteger, comment="Size in bytes of the whole record."
    )
    raw_sha256: Mapped[str | None] = mapped_column(
        String(64),
        index=True,
        comment="SHA-256 of the whole record (raw may hold only its first bytes).",
    )
    created_at: Mapped[CreatedAt]

    load: Mapped[Load] = relationship(back_populates="rejects")


class Document(Base):
    """One article, its text exactly as stored (mention offsets point into ``body``)."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("content_sha256 ~ '^[0-9a-f]{64}$'", name="content_sha256_hex"),
        CheckConstraint("char_count >= 0 AND word_count >= 0", name="counts_non_negative"),
        Index("ix_documents_search_vector", "search_vector", postgresql_using="gin"),
        Index("ix_documents_source_id_published_on", "source_id", "published_on"),
    )

    document_id: Mapped[BigPK]
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.source_id"))
    external_id: Mapped[str | None] = mapped_column(Text, index=True)
    content_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    published_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    dateline: Mapped[str | None] = mapped_column(Text)
    dateline_place: Mapped[str | None] = mapped_column(Text)
    dateline_country: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(Text, server_default="en")
    char_count: Mapped[int] = mapped_column(Integer)
    word_count: Mapped[int] = mapped_column(Integer)
    origin_path: Mapped[str | None] = mapped_column(Text)
    origin_line: Mapped[int | None] = mapped_column(Integer)
    load_id: Mapped[int | None] = mapped_column(
        ForeignKey("loads.load_id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[CreatedAt]
    original_sha256: Mapped[str | None] = mapped_column(
        Text,
        comment="SHA-256 of the original bytes the text was extracted from (an HTML page, a "
        "WARC record, a feed item); NULL for text inputs.",
    )
    original_bytes: Mapped[int | None] = mapped_column(
        BigInteger, comment="Size in bytes of that original."
    )
    # Stored MAIN (migration 0013; SQLAlchemy has no storage option): in the row, so a
    # phrase's re-check of each candidate reads no TOAST.
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR, Computed(SEARCH_VECTOR_SQL, persisted=True), deferred=True
    )

    source: Mapped[Source] = relationship(back_populates="documents")
    mentions: Mapped[list[Mention]] = relationship(back_populates="document")


class DocumentTag(Base):
    """One of the source's own tags of an article (Reuters TOPICS, a JSON ``tags`` field...)."""

    __tablename__ = "document_tags"
    __table_args__ = (
        CheckConstraint("vocabulary <> ''", name="vocabulary"),
        CheckConstraint("tag <> ''", name="tag"),
        Index("ix_document_tags_vocabulary_tag", "vocabulary", "tag"),
        {
            "comment": "The source's own tags of an article: Reuters TOPICS/PLACES/PEOPLE/ORGS/"
            "EXCHANGES, a JSON tags/topic/keywords field, feed categories. One row per article, "
            "vocabulary and tag."
        },
    )

    document_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("documents.document_id", ondelete="CASCADE"), primary_key=True
    )
    vocabulary: Mapped[str] = mapped_column(
        Text,
        primary_key=True,
        comment="Whose tag: topics, places, people, orgs, exchanges (Reuters); the field's "
        "name for JSON and CSV (tags, keywords, section...); tags for a web page's; categories "
        "for a feed's.",
    )
    tag: Mapped[str] = mapped_column(
        Text, primary_key=True, comment="The tag as the source wrote it (trimmed)."
    )


class Entity(Base):
    """A canonical person, organisation, place... that mentions point at."""

    __tablename__ = "entities"
    __table_args__ = (
        CheckConstraint(_in("kind", ENTITY_KINDS), name="kind"),
        UniqueConstraint("kind", "canonical_name"),
        # Lets entity_aliases reference (entity_id, kind) so alias uniqueness can be per kind.
        UniqueConstraint("entity_id", "kind"),
    )

    entity_id: Mapped[IntPK]
    kind: Mapped[str] = mapped_column(String(16))
    canonical_name: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]

    aliases: Mapped[list[EntityAlias]] = relationship(
        back_populates="entity", cascade="all, delete-orphan"
    )
    mentions: Mapped[list[Mention]] = relationship(back_populates="entity")


class EntityAlias(Base):
    """A name an entity goes by; ``normalised`` is unique within the entity's kind."""

    __tablename__ = "entity_aliases"
    __table_args__ = (
        ForeignKeyConstraint(
            ["entity_id", "kind"],
            ["entities.entity_id", "entities.kind"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        UniqueConstraint("kind", "normalised"),
        Index("ix_entity_aliases_entity_id", "entity_id"),
    )

    entity_alias_id: Mapped[IntPK]
    entity_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    alias: Mapped[str] = mapped_column(Text)
    normalised: Mapped[str] = mapped_column(Text)
    origin: Mapped[str | None] = mapped_column(Text)
    # An ambiguous alias counts only in documents that contain one of these terms.
    context_terms: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    created_at: Mapped[CreatedAt]

    entity: Mapped[Entity] = relationship(back_populates="aliases")


class IgnoredSurface(Base):
    """A text the extractors must never turn into a mention (``dbapp entities ignore``)."""

    __tablename__ = "ignored_surfaces"

    ignored_surface_id: Mapped[IntPK]
    surface: Mapped[str] = mapped_column(Text)
    normalised: Mapped[str] = mapped_column(Text, unique=True)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]


class EntityRedirect(Base):
    """A merged-away entity's (kind, name), pointing at the entity it was merged into."""

    __tablename__ = "entity_redirects"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    canonical_name: Mapped[str] = mapped_column(Text, primary_key=True)
    entity_id: Mapped[int] = mapped_column(
        ForeignKey("entities.entity_id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[CreatedAt]


class CatalogueImport(Base):
    """A version (digest) of the shipped entity catalogue that has been seeded."""

    __tablename__ = "catalogue_imports"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    entities: Mapped[int] = mapped_column(Integer)
    aliases: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[CreatedAt]


RELATIONS = ("located_in", "demonym_of", "part_of", "based_in")


class EntityRelation(Base):
    """How an entity rolls up: a city located in its country, a demonym of its country, a body
    part of its organisation, an organisation based in its country."""

    __tablename__ = "entity_relations"
    __table_args__ = (
        CheckConstraint(_in("relation", RELATIONS), name="relation"),
        CheckConstraint("entity_id <> related_entity_id", name="not_self"),
        {
            "comment": "How entities roll up: located_in (a city in its country), demonym_of "
            "(Japanese to Japan), part_of (a body in its organisation), based_in (an "
            "organisation in its country)."
        },
    )

    entity_id: Mapped[int] = mapped_column(
        ForeignKey("entities.entity_id", ondelete="CASCADE"), primary_key=True
    )
    relation: Mapped[str] = mapped_column(Text, primary_key=True)
    related_entity_id: Mapped[int] = mapped_column(
        ForeignKey("entities.entity_id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[CreatedAt]


class Mention(Base):
    """An entity occurring in a document at exact character offsets ``body[start:end]``."""

    __tablename__ = "mentions"
    __table_args__ = (
        CheckConstraint('start >= 0 AND start < "end"', name="span"),
        CheckConstraint(_in("role", MENTION_ROLES), name="role"),
        # The natural key, leading with document_id: what the loader deduplicates on, and what
        # Citus needs of a table distributed on document_id (SCALING.md).
        PrimaryKeyConstraint("document_id", "start", "end", "entity_id"),
        Index("ix_mentions_entity_id_document_id", "entity_id", "document_id"),
    )

    mention_id: Mapped[int] = mapped_column(BigInteger, Identity(always=False))
    document_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("documents.document_id", ondelete="CASCADE")
    )
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.entity_id", ondelete="CASCADE"))
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    surface: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text, server_default="body")
    extractor: Mapped[str] = mapped_column(Text)
    extractor_version: Mapped[str] = mapped_column(Text)
    created_at: Mapped[CreatedAt]

    document: Mapped[Document] = relationship(back_populates="mentions")
    entity: Mapped[Entity] = relationship(back_populates="mentions")


CANDIDATE_STATUSES = ("new", "accepted", "rejected")


class EntityCandidate(Base):
    """A name NER proposed that the catalogue lacks, until accepted or rejected."""

    __tablename__ = "entity_candidates"
    __table_args__ = (
        CheckConstraint(_in("status", CANDIDATE_STATUSES), name="status"),
        CheckConstraint(_in("kind", ENTITY_KINDS), name="kind"),
        UniqueConstraint("normalised", name="uq_entity_candidates_normalised"),
        {
            "comment": "Names NER proposed that the catalogue lacks; `dbapp entities accept` "
            "turns one into an entity. Candidates are not mentions."
        },
    )

    candidate_id: Mapped[IntPK]
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    normalised: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="new")
    entity_id: Mapped[int | None] = mapped_column(
        ForeignKey("entities.entity_id", ondelete="SET NULL")
    )
    examples: Mapped[list[Any]] = mapped_column(JSONB, server_default="[]")
    created_at: Mapped[CreatedAt]
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class CandidateSighting(Base):
    """A document a candidate was seen in (so discovery never counts a document twice)."""

    __tablename__ = "candidate_sightings"

    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("entity_candidates.candidate_id", ondelete="CASCADE"), primary_key=True
    )
    document_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("documents.document_id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    )
    kind: Mapped[str] = mapped_column(String(16))  # the label NER gave it in this document
