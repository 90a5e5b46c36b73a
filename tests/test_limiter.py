"""The runner's concurrency limit: a bound that holds, slots handed over in order, cancellation safe."""

import asyncio

from hashhop.evaluate.limiter import AdaptiveLimiter


def test_never_more_than_the_limit_in_flight_and_waiters_served_first_come_first_served():
    async def go():
        limiter, order, active, peak = AdaptiveLimiter(3, cooldown=60), [], [0], [0]

        async def job(i):
            await limiter.acquire()
            order.append(i)
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            await asyncio.sleep(0.001 * (i % 3))
            active[0] -= 1
            limiter.release()

        await asyncio.gather(*(job(i) for i in range(40)))
        return order, peak[0], limiter.active

    order, peak, left = asyncio.run(go())
    assert peak == 3 and left == 0
    assert order == list(range(40))  # acquired in the order asked


def test_a_cancelled_waiter_gives_its_slot_back():
    async def go():
        limiter = AdaptiveLimiter(1, cooldown=60)
        await limiter.acquire()
        waiting = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)
        limiter.release()  # hands the slot to `waiting`...
        waiting.cancel()  # ...which is cancelled before it runs: the slot must not leak
        await asyncio.gather(waiting, return_exceptions=True)
        await asyncio.wait_for(limiter.acquire(), 1)  # would hang if the slot had leaked
        return limiter.active

    assert asyncio.run(go()) == 1


def test_a_cut_limit_holds_back_waiters_and_growth_after_the_cooldown_lets_them_in():
    async def go():
        limiter = AdaptiveLimiter(5, cooldown=0.0)
        for _ in range(5):
            await limiter.acquire()
        limiter.rate_limited()  # 5 -> 4
        for _ in range(5):
            limiter.release()
        held = [asyncio.ensure_future(limiter.acquire()) for _ in range(5)]
        await asyncio.sleep(0)
        admitted = sum(t.done() for t in held)
        limiter._last_cut = -1e9  # the cooldown is over
        limiter.succeeded()  # 4 -> 5: one more waiter gets in at once
        await asyncio.sleep(0)
        return admitted, sum(t.done() for t in held)

    assert asyncio.run(go()) == (4, 5)
