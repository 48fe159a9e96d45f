/* DESC: io_queue_init/io_queue_run/io_queue_release: callbacks set by io_set_callback and io_fsync run once each with the result. */
#include "common.h"

#define N 5

static int calls;
static long results[N + 1];
static io_context_t seen_ctx;

static void on_done(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	CHECK(iocb != NULL && iocb->data == (void *)on_done);
	seen_ctx = ctx;
	CHECK(res2 == 0);
	results[calls < N + 1 ? calls : N] = res;
	calls++;
}

int main(void)
{
	io_context_t ctx = (io_context_t)0x1234; /* io_queue_init sets it to NULL first */
	struct iocb cbs[N + 1], *ptrs[N];
	static char bufs[N][100];
	int fd, i, r;
	double deadline;

	require_our_library();
	fd = scratch_file("data", 0, 0);
	EXPECT_RET(io_queue_init(N + 1, &ctx), 0);
	CHECK(ctx != 0 && ctx != (io_context_t)0x1234);

	for (i = 0; i < N; i++) {
		io_prep_pwrite(&cbs[i], fd, bufs[i], (size_t)(10 * (i + 1)), i * 100);
		io_set_callback(&cbs[i], on_done);
		ptrs[i] = &cbs[i];
	}
	EXPECT_RET(io_submit(ctx, N, ptrs), N);
	EXPECT_RET(io_fsync(ctx, &cbs[N], on_done, fd), 1);

	deadline = now_seconds() + 10;
	while (calls < N + 1) {
		r = io_queue_run(ctx);
		if (r != 0)
			FAIL("io_queue_run returned %d", r);
		if (now_seconds() > deadline)
			FAIL("%d of %d callbacks in 10 s", calls, N + 1);
		usleep(1000);
	}
	CHECK(calls == N + 1);
	CHECK(seen_ctx == ctx);
	{
		long sum = 0;
		for (i = 0; i < N + 1; i++)
			sum += results[i];
		CHECK(sum == 10 + 20 + 30 + 40 + 50); /* the fsync contributes 0 */
	}
	/* Nothing left: io_queue_run returns 0 at once and calls nothing. */
	EXPECT_RET(io_queue_run(ctx), 0);
	CHECK(calls == N + 1);

	EXPECT_RET(io_queue_release(ctx), 0);
	/* Released: the context is gone. */
	EXPECT_RET(io_queue_run(ctx), -EINVAL);
	EXPECT_RET(io_queue_init(0, &ctx), -EINVAL);
	EXPECT_RET(io_queue_init(-3, &ctx), -EINVAL);
	EXPECT_RET(io_queue_init(4, NULL), -EFAULT);
	return 0;
}
