import uuid

import pytest
import redis
from django.conf import settings

from campaigns.pacing import InProcessTokenBucket, RedisTokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_starts_full_then_refills_at_its_rate():
    clock = FakeClock()
    bucket = InProcessTokenBucket(clock)
    assert bucket.take("c1", rate=2, burst=4, want=10) == 4
    assert bucket.take("c1", rate=2, burst=4, want=10) == 0
    clock.now += 1.5
    assert bucket.take("c1", rate=2, burst=4, want=10) == 3
    clock.now += 100
    assert bucket.take("c1", rate=2, burst=4, want=10) == 4  # never more than the burst


def test_tokens_given_back_can_be_taken_again_up_to_the_burst():
    bucket = InProcessTokenBucket(FakeClock())
    assert bucket.take("c1", rate=1, burst=3, want=3) == 3
    bucket.give_back("c1", burst=3, count=5)
    assert bucket.take("c1", rate=1, burst=3, want=10) == 3


def test_each_campaign_has_its_own_bucket():
    bucket = InProcessTokenBucket(FakeClock())
    assert bucket.take("c1", rate=1, burst=1, want=5) == 1
    assert bucket.take("c2", rate=1, burst=1, want=5) == 1


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs a Redis server (REDIS_URL), as in CI")
def test_the_redis_bucket_is_shared_by_every_client():
    key = f"callwright:test-bucket:{uuid.uuid4()}"
    first = RedisTokenBucket(redis.Redis.from_url(settings.REDIS_URL))
    second = RedisTokenBucket(redis.Redis.from_url(settings.REDIS_URL))  # another worker
    try:
        assert first.take(key, rate=0.001, burst=5, want=3) == 3
        assert second.take(key, rate=0.001, burst=5, want=3) == 2
        assert first.take(key, rate=0.001, burst=5, want=3) == 0
        second.give_back(key, burst=5, count=2)
        assert first.take(key, rate=0.001, burst=5, want=3) == 2
    finally:
        redis.Redis.from_url(settings.REDIS_URL).delete(key)
