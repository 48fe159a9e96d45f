/* DESC: io_context_t is the kernel ring (magic, head, tail, events): zero-timeout io_getevents and direct ring reads both see completions. */
#include "common.h"

int main(void)
{
	io_context_t ctx = 0;
	struct iocb cbs[4], *ptrs[4];
	struct io_event ev[4];
	struct timespec zero = {0, 0};
	struct ring_header *ring;
	struct io_event *events;
	char bufs[4][64];
	unsigned head, tail;
	int fd, i, got;
	double deadline;

	require_our_library();
	fd = scratch_file("data", 4096, 0);
	EXPECT_RET(io_setup(4, &ctx), 0);
	ring = (struct ring_header *)ctx;
	CHECK(ring->magic == 0xa10a10a1u);
	CHECK(ring->header_length == sizeof(struct ring_header));
	CHECK(ring->nr >= 4);
	events = (struct io_event *)(ring + 1);

	/* Empty ring, zero timeout: 0, at once, also with min_nr > 0. */
	EXPECT_RET(io_getevents(ctx, 0, 4, ev, &zero), 0);
	EXPECT_RET(io_getevents(ctx, 1, 4, ev, &zero), 0);

	/* Two completions reaped by io_getevents with a zero timeout (polling). */
	for (i = 0; i < 4; i++) {
		io_prep_pread(&cbs[i], fd, bufs[i], 64, i * 64);
		ptrs[i] = &cbs[i];
	}
	EXPECT_RET(io_submit(ctx, 2, ptrs), 2);
	got = 0;
	deadline = now_seconds() + 10;
	while (got < 2 && now_seconds() < deadline) {
		int r = io_getevents(ctx, 0, 4, ev + got, &zero);
		CHECK(r >= 0);
		got += r;
	}
	CHECK(got == 2);

	/* Two completions reaped straight from the ring, as fio's userspace_reap does. */
	EXPECT_RET(io_submit(ctx, 2, ptrs + 2), 2);
	got = 0;
	deadline = now_seconds() + 10;
	while (got < 2 && now_seconds() < deadline) {
		head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
		tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
		while (head != tail) {
			CHECK(events[head].res == 64);
			CHECK(events[head].obj == &cbs[2] || events[head].obj == &cbs[3]);
			head = (head + 1) % ring->nr;
			got++;
		}
		__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
	}
	CHECK(got == 2);
	/* The library agrees the ring is empty now. */
	EXPECT_RET(io_getevents(ctx, 0, 4, ev, &zero), 0);
	EXPECT_RET(io_destroy(ctx), 0);
	return 0;
}
