"""`fuse_rrf` and `fuse_dbsf`, the fusions of an explained hybrid search, on (id, score) rankings as the
stores give them."""

from __future__ import annotations

import random
import uuid

import numpy as np
import pytest

from retrieval.vectorstore.plan import Filters, Ranking, Stage, fuse, fuse_dbsf, fuse_rrf

pytestmark = pytest.mark.unit

GRANT = Filters(("c1",))


def _stage(limit: int, k: int = 60) -> Stage:
    legs = (Stage(Ranking.dense, 100, GRANT), Stage(Ranking.sparse, 100, GRANT))
    return Stage(Ranking.rrf, limit, GRANT, legs, rrf_k=k)


def test_scores_ranks_and_fused_order() -> None:
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.7)]
    sparse = [("c", 5.0), ("d", 4.0)]
    fused = fuse_rrf(_stage(10, k=2), [dense, sparse])
    # c: 1/(2+2) + 1/(2+0) = 0.75; a: 0.5; b: 1/3; d: 1/3 (tie, by id: b before d).
    assert [(point_id, round(score, 6)) for point_id, score, _ in fused] == [
        ("c", 0.75),
        ("a", 0.5),
        ("b", round(1 / 3, 6)),
        ("d", round(1 / 3, 6)),
    ]
    _, _, c = fused[0]
    assert (c.dense_rank, c.dense_score, c.sparse_rank, c.sparse_score) == (3, 0.7, 1, 5.0)
    assert (c.fused_rank, c.fusion) == (1, "rrf(k=2)")
    _, _, d = fused[3]
    assert (d.dense_rank, d.dense_score, d.sparse_rank, d.fused_rank) == (None, None, 2, 4)


def test_only_the_limit_is_returned() -> None:
    dense = [(str(n), 1.0 - n / 100) for n in range(50)]
    assert [point_id for point_id, _, _ in fuse_rrf(_stage(3), [dense, []])] == ["0", "1", "2"]


def test_tied_scores_in_a_leg_are_ranked_by_id_whatever_order_the_engine_gave() -> None:
    sparse = [("z", 2.0), ("m", 1.0), ("b", 1.0), ("k", 1.0), ("a", 0.5)]
    fused = fuse_rrf(_stage(10), [[], sparse])
    assert [(point_id, ranks.sparse_rank) for point_id, _, ranks in fused] == [
        ("z", 1),
        ("b", 2),
        ("k", 3),
        ("m", 4),
        ("a", 5),
    ]


def _uuid_legs(seed: int) -> list[list[tuple[uuid.UUID, float]]]:
    """Two rankings of 80 of the same 120 random UUIDs, best first, with scores drawn from a few values so
    that many tie."""
    rng = random.Random(seed)
    ids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(120)]
    return [
        sorted(
            ((point_id, float(rng.randint(1, 6))) for point_id in rng.sample(ids, 80)), key=lambda p: -p[1]
        )
        for _ in range(2)
    ]


def test_uuid_keys_rank_as_their_strings_do() -> None:
    """qdrant-edge's rankings are keyed by each UUID's integer and a Qdrant server's by the UUID string: the
    same fusion either way, ties included (scores drawn from a few values so that many tie)."""
    legs = _uuid_legs(7)
    as_int = fuse_rrf(_stage(40), [[(point_id.int, score) for point_id, score in leg] for leg in legs])
    as_str = fuse_rrf(_stage(40), [[(str(point_id), score) for point_id, score in leg] for leg in legs])
    assert [(str(uuid.UUID(int=key)), score, ranks) for key, score, ranks in as_int] == as_str
    # The fused order breaks ties by id too.
    assert [(-score, point_id) for point_id, score, _ in as_str] == sorted(
        (-score, point_id) for point_id, score, _ in as_str
    )


def test_only_a_fusion_stage_is_fused() -> None:
    with pytest.raises(ValueError, match="fusion"):
        fuse_rrf(Stage(Ranking.dense, 10, GRANT), [])
    with pytest.raises(ValueError, match="fusion"):
        fuse_dbsf(_stage(10), [])
    with pytest.raises(ValueError, match="fusion"):
        fuse(Stage(Ranking.sparse, 10, GRANT), [])


# -- distribution-based score fusion -------------------------------------------------------------------------


def _dbsf_stage(limit: int) -> Stage:
    legs = (Stage(Ranking.dense, 100, GRANT), Stage(Ranking.sparse, 100, GRANT))
    return Stage(Ranking.dbsf, limit, GRANT, legs)


def _normalised(scores: list[float]) -> list[float]:
    """Qdrant's normalisation of one leg, written out with numpy: mean ± 3 sample standard deviations."""
    values = np.array(scores)
    low = values.mean() - 3 * values.std(ddof=1)
    high = values.mean() + 3 * values.std(ddof=1)
    return ((values - low) / (high - low)).tolist()  # type: ignore[no-any-return]


def test_dbsf_sums_each_legs_scores_normalised_by_its_own_distribution() -> None:
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.5), ("e", 0.1)]
    sparse = [("c", 12.0), ("d", 7.0), ("b", 1.0)]
    fused = fuse_dbsf(_dbsf_stage(10), [dense, sparse])

    normal_dense = dict(zip("abce", _normalised([0.9, 0.8, 0.5, 0.1]), strict=True))
    normal_sparse = dict(zip("cdb", _normalised([12.0, 7.0, 1.0]), strict=True))
    expected = {p: normal_dense.get(p, 0.0) + normal_sparse.get(p, 0.0) for p in "abcde"}
    assert {point_id: score for point_id, score, _ in fused} == pytest.approx(expected)
    assert [point_id for point_id, _, _ in fused] == sorted(expected, key=lambda p: -expected[p])
    # A BM25 score of 12 and a cosine of 0.5 weigh alike once each is placed within its own ranking.
    assert fused[0][0] == "c"
    by_id = {point_id: ranks for point_id, _, ranks in fused}
    c = by_id["c"]
    assert (c.dense_rank, c.dense_score, c.sparse_rank, c.sparse_score) == (3, 0.5, 1, 12.0)
    assert (c.fused_rank, c.fusion) == (1, "dbsf")
    e = by_id["e"]
    assert (e.sparse_rank, e.sparse_score, e.fused_rank) == (None, None, 5)


def test_dbsf_scores_are_not_clipped_beyond_three_deviations() -> None:
    # One outlier among many equal scores lies beyond mean + 3 std (n - 1 deviations from the rest).
    sparse = [("top", 100.0)] + [(f"p{n:02d}", 1.0) for n in range(20)]
    [(point_id, score, _), *_] = fuse_dbsf(_dbsf_stage(5), [[], sparse])
    assert point_id == "top"
    assert score == pytest.approx(_normalised([100.0] + [1.0] * 20)[0])
    assert score > 1.0


@pytest.mark.parametrize("scores", [[0.7], [0.4, 0.4, 0.4]], ids=["one point", "equal scores"])
def test_a_leg_without_spread_gives_each_point_one_half(scores: list[float]) -> None:
    dense = [(f"p{n}", score) for n, score in enumerate(scores)]
    fused = fuse_dbsf(_dbsf_stage(10), [dense, []])
    assert [(point_id, score) for point_id, score, _ in fused] == [(p, 0.5) for p, _ in dense]
    # The other leg still counts in full.
    sparse = [("q", 3.0), ("p0", 1.0)]
    both = {point_id: score for point_id, score, _ in fuse_dbsf(_dbsf_stage(10), [dense, sparse])}
    assert both["p0"] == pytest.approx(0.5 + _normalised([3.0, 1.0])[1])
    assert both["q"] == pytest.approx(_normalised([3.0, 1.0])[0])


def test_empty_legs_fuse_to_nothing() -> None:
    assert fuse_dbsf(_dbsf_stage(10), [[], []]) == []
    only_dense = fuse_dbsf(_dbsf_stage(10), [[("a", 0.9), ("b", 0.3)], []])
    assert [(p, ranks.sparse_rank) for p, _, ranks in only_dense] == [("a", None), ("b", None)]


def test_dbsf_ties_are_ranked_by_id_in_each_leg_and_in_the_fusion() -> None:
    # Three points with the same BM25 score, none found densely: their fused scores tie too.
    sparse = [("z", 2.0), ("m", 1.0), ("b", 1.0), ("k", 1.0), ("a", 0.5)]
    fused = fuse_dbsf(_dbsf_stage(10), [[], sparse])
    assert [(point_id, ranks.sparse_rank, ranks.fused_rank) for point_id, _, ranks in fused] == [
        ("z", 1, 1),
        ("b", 2, 2),
        ("k", 3, 3),
        ("m", 4, 4),
        ("a", 5, 5),
    ]
    assert fused[1][1] == fused[2][1] == fused[3][1]
    # The cut falls within the tie: the smallest ids are kept.
    assert [point_id for point_id, _, _ in fuse_dbsf(_dbsf_stage(2), [[], sparse])] == ["z", "b"]


def test_dbsf_uuid_keys_rank_as_their_strings_do() -> None:
    legs = _uuid_legs(11)
    as_int = fuse_dbsf(_dbsf_stage(40), [[(point_id.int, score) for point_id, score in leg] for leg in legs])
    as_str = fuse_dbsf(_dbsf_stage(40), [[(str(point_id), score) for point_id, score in leg] for leg in legs])
    assert [(str(uuid.UUID(int=key)), score, ranks) for key, score, ranks in as_int] == as_str


def test_fuse_follows_the_stage() -> None:
    dense = [("a", 0.9), ("b", 0.2)]
    sparse = [("b", 9.0), ("c", 1.0)]
    assert fuse(_stage(10), [dense, sparse]) == fuse_rrf(_stage(10), [dense, sparse])
    assert fuse(_dbsf_stage(10), [dense, sparse]) == fuse_dbsf(_dbsf_stage(10), [dense, sparse])
