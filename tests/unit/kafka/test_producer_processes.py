from collections import Counter

from kafka.kafka_producer import DeliveryTally, combine, split


def test_a_count_splits_into_shares_that_differ_by_at_most_one():
    assert split(10, 3) == [4, 3, 3]
    assert split(2, 4) == [1, 1, 0, 0]
    assert split(None, 2) == [None, None]
    assert sum(split(1_000_001, 7)) == 1_000_001


def test_tallies_of_the_processes_add_up_per_topic():
    one = DeliveryTally(sent=Counter(a=3, b=1), acked=Counter(a=3), failed=Counter(b=1), errors=Counter(X=1))
    two = DeliveryTally(sent=Counter(a=2), acked=Counter(a=1))
    both = combine([one, two])
    assert (both.sent, both.acked, both.failed, both.errors) == (
        Counter(a=5, b=1),
        Counter(a=4),
        Counter(b=1),
        Counter(X=1),
    )
    assert both.undelivered("a") == 1 and not both.all_delivered
