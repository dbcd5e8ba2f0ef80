"""docs/datasets.md carries the column reference generated from lakehouse/dictionary.py."""

from pipelines.dictionary_doc import BEGIN, DATASETS_DOC, END, column_reference, with_reference


def test_the_committed_column_reference_is_the_generated_one() -> None:
    document = DATASETS_DOC.read_text(encoding="utf-8")
    assert BEGIN in document and END in document
    assert with_reference(document) == document, (
        "docs/datasets.md is out of date: run `python -m pipelines.dictionary_doc`"
    )


def test_the_reference_names_units_and_every_error_column() -> None:
    reference = column_reference()
    assert "| `revenue_cents` | int64 | US cents |" in reference
    assert "| `page_views_error95` | int64 | views |" in reference
    assert "| `day` | date32[day] | date |" in reference
