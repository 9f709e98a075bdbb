from infra.wording import counted, listed


def test_counts_take_the_singular_for_exactly_one():
    assert [counted(n, "record") for n in (0, 1, 2)] == ["0 records", "1 record", "2 records"]
    assert counted(1, "query", "queries") == "1 query" and counted(3, "query", "queries") == "3 queries"


def test_lists_join_with_and():
    assert [listed(w) for w in (["a"], ["a", "b"], ["a", "b", "c"])] == ["a", "a and b", "a, b and c"]
