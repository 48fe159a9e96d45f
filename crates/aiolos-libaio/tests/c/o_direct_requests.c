/* DESC: O_DIRECT reads and writes answer as kernel AIO's: batches, a misaligned buffer (-EINVAL in the event), a failed request's event in the ring when io_submit returns, a bad descriptor ending a batch, completions found by min_nr = 0 polls, by direct ring reads and before their eventfd fires, io_destroy with requests in flight. */
#include "common.h"
#include <poll.h>
#include <sys/eventfd.h>

#define BLK 4096
#define N 8

static void *block(void)
{
	void *p = NULL;
	if (posix_memalign(&p, BLK, BLK * 2) != 0)
		FAIL("posix_memalign");
	return p;
}

int main(void)
{
	io_context_t ctx = 0;
	struct iocb cbs[N], *ptrs[N];
	struct io_event ev[N];
	struct timespec zero = {0, 0};
	void *bufs[N];
	int fd, bfd, efd, i, got;
	uint64_t count;
	struct pollfd pfd;
	double deadline;

	require_our_library();
	fd = open("direct", O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
	if (fd < 0 && errno == EINVAL)
		SKIP("the scratch directory's file system has no O_DIRECT");
	if (fd < 0)
		FAIL("open: %s", strerror(errno));
	CHECK(ftruncate(fd, BLK * N) == 0);
	bfd = scratch_file("buffered", BLK, 0);
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK(efd >= 0);
	for (i = 0; i < N; i++)
		bufs[i] = block();
	EXPECT_RET(io_setup(64, &ctx), 0);

	/* One batch of writes, half with an eventfd; reaped by io_getevents. */
	for (i = 0; i < N; i++) {
		fill_pattern(bufs[i], BLK, (unsigned)i);
		io_prep_pwrite(&cbs[i], fd, bufs[i], BLK, (long long)i * BLK);
		cbs[i].data = (void *)(intptr_t)(100 + i);
		if (i % 2)
			io_set_eventfd(&cbs[i], efd);
		ptrs[i] = &cbs[i];
	}
	EXPECT_RET(io_submit(ctx, N, ptrs), N);
	reap(ctx, ev, N);
	for (i = 0; i < N; i++) {
		struct iocb *cb = (struct iocb *)ev[i].obj;
		CHECK(cb >= cbs && cb < cbs + N);
		CHECK(ev[i].res == BLK && ev[i].res2 == 0);
		CHECK((intptr_t)ev[i].data == 100 + (cb - cbs));
	}
	pfd.fd = efd;
	pfd.events = POLLIN;
	CHECK(poll(&pfd, 1, 10000) == 1);
	CHECK(read(efd, &count, sizeof(count)) == sizeof(count));
	CHECK(count == N / 2);

	/* Read back, taken straight from the ring: nobody calls io_getevents. */
	for (i = 0; i < N; i++) {
		memset(bufs[i], 0, BLK);
		io_prep_pread(&cbs[i], fd, bufs[i], BLK, (long long)i * BLK);
		ptrs[i] = &cbs[i];
	}
	EXPECT_RET(io_submit(ctx, N, ptrs), N);
	got = ring_take(ctx, ev, N);
	if (got != N)
		FAIL("the ring showed %d of %d completions in 10 s", got, N);
	for (i = 0; i < N; i++) {
		struct iocb *cb = (struct iocb *)ev[i].obj;
		CHECK(ev[i].res == BLK);
		CHECK(check_pattern(cb->u.c.buf, BLK, (unsigned)(cb - cbs)));
	}
	EXPECT_RET(io_getevents(ctx, 0, N, ev, &zero), 0);

	/* The event is in the ring when the request's eventfd fires (QEMU reads the ring
	 * then, and only then). */
	io_prep_pread(&cbs[0], fd, bufs[0], BLK, 0);
	io_set_eventfd(&cbs[0], efd);
	EXPECT_RET(io_submit(ctx, 1, ptrs), 1);
	CHECK(poll(&pfd, 1, 10000) == 1);
	CHECK(read(efd, &count, sizeof(count)) == sizeof(count) && count == 1);
	{
		struct ring_header *ring = (struct ring_header *)ctx;
		CHECK(__atomic_load_n(&ring->head, __ATOMIC_ACQUIRE) !=
		      __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE));
	}
	EXPECT_RET(io_getevents(ctx, 0, 1, ev, &zero), 1);
	CHECK(ev[0].obj == &cbs[0] && ev[0].res == BLK);

	/* A misaligned buffer: the kernel's answer is -EINVAL in the event, not from
	 * io_submit. */
	io_prep_pread(&cbs[0], fd, (char *)bufs[0] + 1, BLK, 0);
	EXPECT_RET(io_submit(ctx, 1, ptrs), 1);
	reap(ctx, ev, 1);
	EXPECT_RET(ev[0].res, -EINVAL);

	/* A request the kernel fails inside io_submit (no buffer): its event is in the ring
	 * when io_submit returns, before the buffered read submitted after it. (Not where
	 * O_DIRECT runs on the engine, which fails it a moment later: docs/dropin.md.) */
	io_prep_pread(&cbs[0], fd, NULL, BLK, 0);
	io_prep_pread(&cbs[1], bfd, bufs[1], BLK, 0);
	EXPECT_RET(io_submit(ctx, 2, ptrs), 2);
	if (!getenv("AIOLOS_TEST_DIRECT_ON_ENGINE")) {
		struct ring_header *ring = (struct ring_header *)ctx;
		struct io_event *events = (struct io_event *)(ring + 1);
		unsigned head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
		unsigned tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
		CHECK(head != tail);
		CHECK(events[head].obj == &cbs[0] && (long)events[head].res == -EFAULT);
	}
	reap(ctx, ev, 2);

	/* A closed descriptor in the middle of a batch: the batch ends before it. */
	io_prep_pread(&cbs[0], fd, bufs[0], BLK, 0);
	io_prep_pread(&cbs[1], 999, bufs[1], BLK, 0);
	io_prep_pread(&cbs[2], fd, bufs[2], BLK, BLK);
	EXPECT_RET(io_submit(ctx, 3, ptrs), 1);
	reap(ctx, ev, 1);
	CHECK(ev[0].obj == &cbs[0] && ev[0].res == BLK);
	EXPECT_RET(io_submit(ctx, 1, ptrs + 1), -EBADF);

	/* O_DIRECT and buffered requests in one batch; polled with min_nr = 0. */
	io_prep_pread(&cbs[0], fd, bufs[0], BLK, 0);
	io_prep_pread(&cbs[1], bfd, bufs[1], BLK, 0);
	io_prep_pread(&cbs[2], fd, bufs[2], BLK, BLK);
	EXPECT_RET(io_submit(ctx, 3, ptrs), 3);
	got = 0;
	deadline = now_seconds() + 10;
	while (got < 3 && now_seconds() < deadline) {
		int r = io_getevents(ctx, 0, N, ev + got, &zero);
		CHECK(r >= 0);
		got += r;
	}
	CHECK(got == 3);
	for (i = 0; i < 3; i++)
		CHECK(ev[i].res == BLK);

	/* io_destroy with requests in flight returns once they are done. */
	for (i = 0; i < N; i++) {
		io_prep_pread(&cbs[i], fd, bufs[i], BLK, (long long)i * BLK);
		ptrs[i] = &cbs[i];
	}
	EXPECT_RET(io_submit(ctx, N, ptrs), N);
	EXPECT_RET(io_destroy(ctx), 0);
	for (i = 0; i < N; i++)
		free(bufs[i]);
	close(efd);
	close(bfd);
	close(fd);
	return 0;
}
