/* DESC: pthread_cancel and the library. libaio's calls are system calls, none a cancellation point: a thread with a cancellation pending goes through io_setup, io_submit (iocbs in its own malloc arena), io_getevents, io_cancel and io_destroy normally and is cancelled at its next cancellation point; a thread asleep in io_getevents when it is cancelled sleeps on until its event comes. Before, the library's own calls that are cancellation points (pwritev, pread) acted on it inside io_submit and the process aborted. */
#include "common.h"
#include <poll.h>
#include <pthread.h>

static int fd, pipefd[2];
/* What each thread's calls returned, written before its next cancellation point. */
static long results[8];
static volatile int reached_end, asleep;

/* Cancels itself, then makes every call of the library; only pthread_testcancel ends it. */
static void *pending_cancellation(void *arg)
{
	/* In this thread's malloc arena (not the main heap): read through the kernel. */
	struct iocb *cb = (struct iocb *)malloc(sizeof(*cb)), *cbs[1];
	unsigned char *buf = (unsigned char *)malloc(4096);
	struct io_event ev;
	struct timespec ts = {10, 0};
	io_context_t ctx = 0;

	(void)arg;
	pthread_cancel(pthread_self());
	results[0] = io_setup(4, &ctx);
	io_prep_pread(cb, fd, buf, 4096, 4096);
	cb->data = (void *)7L;
	cbs[0] = cb;
	results[1] = io_submit(ctx, 1, cbs);
	results[2] = io_getevents(ctx, 1, 1, &ev, &ts);
	results[3] = ev.res == 4096 && ev.data == (void *)7L && check_pattern(buf, 4096, 1);
	results[4] = io_cancel(ctx, cb, &ev);
	results[5] = io_destroy(ctx);
	reached_end = 1;
	pthread_testcancel();
	return NULL;
}

/* Sleeps in io_getevents on a poll of an empty pipe; cancelled meanwhile. */
static void *asleep_when_cancelled(void *arg)
{
	io_context_t ctx = *(io_context_t *)arg;
	struct iocb *cb = (struct iocb *)malloc(sizeof(*cb)), *cbs[1];
	struct io_event ev;

	io_prep_poll(cb, pipefd[0], POLLIN);
	cbs[0] = cb;
	results[6] = io_submit(ctx, 1, cbs);
	asleep = 1;
	results[7] = io_getevents(ctx, 1, 1, &ev, NULL);
	reached_end = 1;
	pthread_testcancel();
	return NULL;
}

int main(void)
{
	unsigned char *block;
	io_context_t ctx = 0;
	pthread_t t;
	void *res;
	int i;

	require_our_library();
	CHECK(posix_memalign((void **)&block, 4096, 4096) == 0);
	fd = scratch_file("data", 2 * 4096, 0);
	fill_pattern(block, 4096, 1);
	CHECK(pwrite(fd, block, 4096, 4096) == 4096);

	CHECK(pthread_create(&t, NULL, pending_cancellation, NULL) == 0);
	CHECK(pthread_join(t, &res) == 0);
	CHECK(res == PTHREAD_CANCELED);
	if (!reached_end)
		FAIL("the thread was cancelled inside the library");
	EXPECT_RET(results[0], 0);
	EXPECT_RET(results[1], 1);
	EXPECT_RET(results[2], 1);
	CHECK(results[3] == 1);
	EXPECT_RET(results[4], -EINVAL);
	EXPECT_RET(results[5], 0);

	reached_end = 0;
	CHECK(pipe(pipefd) == 0);
	EXPECT_RET(io_setup(4, &ctx), 0);
	CHECK(pthread_create(&t, NULL, asleep_when_cancelled, &ctx) == 0);
	for (i = 0; i < 1000 && !asleep; i++)
		usleep(1000);
	usleep(100000); /* into its sleep */
	CHECK(pthread_cancel(t) == 0);
	usleep(200000);
	if (reached_end)
		FAIL("io_getevents returned without an event after pthread_cancel");
	CHECK(write(pipefd[1], "x", 1) == 1);
	CHECK(pthread_join(t, &res) == 0);
	CHECK(res == PTHREAD_CANCELED);
	if (!reached_end)
		FAIL("the sleeping thread was cancelled inside io_getevents");
	EXPECT_RET(results[6], 1);
	EXPECT_RET(results[7], 1);
	EXPECT_RET(io_destroy(ctx), 0);
	return 0;
}
