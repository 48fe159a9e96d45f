/* DESC: io_submit stops at the first bad iocb and at a full context, returning how many it queued, as the kernel does. */
#include "common.h"
#include <poll.h>

#define MANY 1000

int main(void)
{
	io_context_t ctx = 0;
	struct iocb cbs[3], *ptrs[3];
	static struct iocb polls[MANY];
	static struct iocb *pptrs[MANY];
	struct io_event ev[3];
	char a[100], b[100], c[100];
	int fd, pfd[2], i, n, more;

	require_our_library();
	fd = scratch_file("data", 4096, 0);
	EXPECT_RET(io_setup(8, &ctx), 0);

	/* A bad fd in the middle: the first request is queued, the rest are not. */
	io_prep_pread(&cbs[0], fd, a, sizeof(a), 0);
	io_prep_pread(&cbs[1], 9999, b, sizeof(b), 0);
	io_prep_pread(&cbs[2], fd, c, sizeof(c), 0);
	for (i = 0; i < 3; i++)
		ptrs[i] = &cbs[i];
	EXPECT_RET(io_submit(ctx, 3, ptrs), 1);
	/* Resubmitting from the failed one reports its error. */
	EXPECT_RET(io_submit(ctx, 2, ptrs + 1), -EBADF);
	reap(ctx, ev, 1);
	CHECK(ev[0].obj == &cbs[0] && ev[0].res == (long)sizeof(a));

	/* A full context: polls on an empty pipe stay in flight; io_submit takes what fits. */
	CHECK(pipe(pfd) == 0);
	for (i = 0; i < MANY; i++) {
		io_prep_poll(&polls[i], pfd[0], POLLIN);
		pptrs[i] = &polls[i];
	}
	n = io_submit(ctx, MANY, pptrs);
	if (n == -EINVAL)
		SKIP("IOCB_CMD_POLL not supported by this kernel");
	if (n <= 0 || n >= MANY)
		FAIL("io_submit of %d polls on an 8-event context returned %d", MANY, n);
	more = io_submit(ctx, MANY - n, pptrs + n);
	if (more != -EAGAIN)
		FAIL("submitting to a full context returned %d, expected -EAGAIN", more);
	/* Completing them frees the slots: write to the pipe, reap all n. */
	CHECK(write(pfd[1], "x", 1) == 1);
	{
		static struct io_event pev[MANY];
		reap(ctx, pev, n);
		for (i = 0; i < n; i++)
			CHECK(pev[i].res & POLLIN);
	}
	EXPECT_RET(io_destroy(ctx), 0);
	return 0;
}
