from ops.spill import Spill


def test_items_with_one_key_share_a_shard_and_every_item_comes_back(tmp_path):
    spill = Spill(tmp_path, "ids", shards=8)
    items = [(f"id-{i % 50}".encode(), i, f"p{i}") for i in range(1000)]
    for item in items:
        spill.add(*item)
    assert spill.count == 1000
    back = [item for shard in range(len(spill)) for item in spill.shard(shard)]
    assert sorted(back) == sorted(items)
    for shard in range(len(spill)):
        keys = {item[0] for item in spill.shard(shard)}
        assert all(spill.shard_of(k) == shard for k in keys)


def test_an_empty_spill_reads_back_empty(tmp_path):
    spill = Spill(tmp_path, "none", shards=4)
    assert [list(spill.shard(i)) for i in range(4)] == [[], [], [], []]
