/* DESC: requests with io_set_eventfd signal their eventfd on completion, seen through epoll before anyone calls io_getevents. */
#include "common.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>

#define N 8

int main(void)
{
	io_context_t ctx = 0;
	struct iocb cbs[N], *ptrs[N];
	struct io_event ev[N];
	static char bufs[N][512];
	uint64_t count = 0, total = 0;
	struct epoll_event eev;
	int fd, efd, ep, i;
	double deadline;

	require_our_library();
	fd = scratch_file("data", N * 512, 0);
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK(efd >= 0 && ep >= 0);
	memset(&eev, 0, sizeof(eev));
	eev.events = EPOLLIN;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &eev) == 0);

	EXPECT_RET(io_setup(N, &ctx), 0);
	for (i = 0; i < N; i++) {
		fill_pattern(bufs[i], 512, (unsigned)i);
		io_prep_pwrite(&cbs[i], fd, bufs[i], 512, i * 512);
		io_set_eventfd(&cbs[i], efd);
		CHECK(cbs[i].u.c.flags & 1u);
		ptrs[i] = &cbs[i];
	}
	EXPECT_RET(io_submit(ctx, N, ptrs), N);

	/* The event loop: wait on epoll only, until the counter says all N completed. */
	deadline = now_seconds() + 10;
	while (total < N) {
		int r = epoll_wait(ep, &eev, 1, 1000);
		if (r < 0 && errno != EINTR)
			FAIL("epoll_wait: %s", strerror(errno));
		if (r == 1) {
			CHECK(read(efd, &count, 8) == 8);
			total += count;
		}
		if (now_seconds() > deadline)
			FAIL("eventfd counted %llu of %d completions in 10 s",
			     (unsigned long long)total, N);
	}
	CHECK(total == N);

	/* The completions are all there, without waiting. */
	{
		struct timespec zero = {0, 0};
		EXPECT_RET(io_getevents(ctx, N, N, ev, &zero), N);
	}
	for (i = 0; i < N; i++)
		CHECK(ev[i].res == 512);
	EXPECT_RET(io_destroy(ctx), 0);
	return 0;
}
