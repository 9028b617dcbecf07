"""What the ingest path reads of the metadata store after a restart (known versions and
inferred columns), over every metadata store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlpulse.adapters.store.sqlite_metadata import SQLiteMetadataStore
from mlpulse.domain.schema import ColumnKind
from mlpulse.ports import MetadataStore
from mlpulse.testing.fakes import InMemoryMetadataStore

STORES: dict[str, Callable[[Path], MetadataStore]] = {
    "sqlite": lambda tmp: SQLiteMetadataStore(tmp / "metadata.sqlite"),
    "in-memory": lambda tmp: InMemoryMetadataStore(),
}


@pytest.fixture(params=sorted(STORES))
def metadata(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    store = STORES[request.param](tmp_path)
    yield store
    store.close()


def test_metadata_store_knows_every_version_and_inferred_column_but_not_overrides(
    metadata: MetadataStore,
) -> None:
    assert metadata.known_versions() == set() and metadata.known_columns() == {}
    numeric, categorical = ColumnKind.NUMERIC, ColumnKind.CATEGORICAL

    metadata.upsert_models({("fraud", "v1"): {"amount": numeric}}, now=1.0)
    metadata.upsert_models({("fraud", "v2"): {"country": categorical}, ("recs", "v1"): {}}, now=2.0)
    metadata.set_schema_overrides("fraud", {"declared": numeric})

    assert metadata.known_versions() == {("fraud", "v1"), ("fraud", "v2"), ("recs", "v1")}
    assert metadata.known_columns() == {"fraud": {"amount", "country"}}
