/* DESC: io_cancel answers as the kernel does (a pending poll: -EINPROGRESS, then one completion with res 0; reads, writes and syncs, queued, running or done: -EINVAL, then their normal completion), never writes evt, and every request completes exactly once. */
#include "common.h"
#include <poll.h>

#define MAX_REQS 64
#define WAITING_POLLS 8 /* more than the threads engine has workers: some wait queued */
#define QUEUED_READS 8

static io_context_t ctx;
static struct iocb *reqs[MAX_REQS];
static int seen[MAX_REQS];
static long results[MAX_REQS];
static int nreqs;

static int index_of(struct iocb *cb)
{
	int i;
	for (i = 0; i < nreqs; i++)
		if (reqs[i] == cb)
			return i;
	return -1;
}

static void submit(struct iocb *cb)
{
	struct iocb *list[1] = {cb};
	CHECK(nreqs < MAX_REQS);
	cb->data = cb;
	reqs[nreqs++] = cb;
	EXPECT_RET(io_submit(ctx, 1, list), 1);
}

/* Cancels cb, checks the answer, and checks that evt was left alone. */
static void cancel_expect(struct iocb *cb, int want, const char *what)
{
	struct io_event evt;
	unsigned char *p = (unsigned char *)&evt;
	size_t i;
	int r;

	memset(&evt, 0xa5, sizeof(evt));
	r = io_cancel(ctx, cb, &evt);
	if (r != want)
		FAIL("io_cancel(%s) returned %d (%s), expected %d (%s)", what, r,
		     r < 0 ? strerror(-r) : "", want, strerror(-want));
	for (i = 0; i < sizeof(evt); i++)
		if (p[i] != 0xa5)
			FAIL("io_cancel(%s) wrote to evt (the kernel never does)", what);
}

/* Reaps until every request submitted so far has completed, counting each. */
static void reap_all(void)
{
	double deadline = now_seconds() + 10;
	int done = 0, i;

	for (i = 0; i < nreqs; i++)
		done += seen[i];
	while (done < nreqs) {
		struct io_event ev[MAX_REQS];
		struct timespec ts = {1, 0};
		int n = io_getevents(ctx, 1, MAX_REQS, ev, &ts), k;
		if (n < 0)
			FAIL("io_getevents: %s", strerror(-n));
		for (k = 0; k < n; k++) {
			int j = index_of((struct iocb *)ev[k].obj);
			if (j < 0 || ev[k].data != ev[k].obj)
				FAIL("an event for an unknown request %p", (void *)ev[k].obj);
			if (seen[j]++)
				FAIL("request %d completed twice", j);
			results[j] = (long)ev[k].res;
			done++;
		}
		if (now_seconds() > deadline)
			FAIL("only %d of %d requests completed within 10 s", done, nreqs);
	}
}

/* Nothing more arrives: every request completed exactly once. */
static void expect_no_more(void)
{
	struct io_event ev[4];
	struct timespec ts = {0, 300 * 1000 * 1000};
	int n = io_getevents(ctx, 1, 4, ev, &ts);
	if (n != 0)
		FAIL("%d extra completion(s) after every request completed (first res %lld)", n,
		     n > 0 ? (long long)ev[0].res : 0LL);
}

int main(void)
{
	static char buf[4][4096] __attribute__((aligned(4096)));
	struct iocb poll_cb, fired_cb, rd, wr, fs, dio, never;
	struct iocb waiting[WAITING_POLLS], queued[QUEUED_READS];
	int p[2], q[2], r[2], fd, dfd, i;

	require_our_library();
	EXPECT_RET(io_setup(MAX_REQS, &ctx), 0);
	CHECK(pipe(p) == 0 && pipe(q) == 0 && pipe(r) == 0);
	memset(&never, 0, sizeof(never));
	fd = scratch_file("data", 1 << 16, 0);
	fill_pattern(buf[0], 4096, 1);
	CHECK(pwrite(fd, buf[0], 4096, 0) == 4096);

	/* A pending poll: a key other than the one io_submit leaves (0) is refused; then it
	 * is cancelled in progress, once; a second cancel finds nothing to cancel. */
	io_prep_poll(&poll_cb, p[0], POLLIN);
	submit(&poll_cb);
	usleep(50 * 1000);
	poll_cb.key = 7;
	cancel_expect(&poll_cb, -EINVAL, "poll with a wrong key");
	poll_cb.key = 0;
	cancel_expect(&poll_cb, -EINPROGRESS, "pending poll");
	cancel_expect(&poll_cb, -EINVAL, "poll already cancelled");
	/* evt is not even looked at. */
	EXPECT_RET(io_cancel(ctx, &never, (struct io_event *)8), -EINVAL);

	/* A poll that has fired cannot be cancelled; its event carries the readiness. */
	CHECK(write(q[1], "y", 1) == 1);
	io_prep_poll(&fired_cb, q[0], POLLIN);
	submit(&fired_cb);

	/* File I/O and syncs cannot be cancelled, whether still running or done. */
	io_prep_pread(&rd, fd, buf[1], 4096, 0);
	submit(&rd);
	cancel_expect(&rd, -EINVAL, "buffered read");
	io_prep_pwrite(&wr, fd, buf[0], 4096, 8192);
	submit(&wr);
	cancel_expect(&wr, -EINVAL, "buffered write");
	io_prep_fsync(&fs, fd);
	submit(&fs);
	cancel_expect(&fs, -EINVAL, "fsync");
	dfd = open("data", O_RDONLY | O_DIRECT);
	if (dfd >= 0) {
		io_prep_pread(&dio, dfd, buf[2], 4096, 0);
		submit(&dio);
		cancel_expect(&dio, -EINVAL, "direct read");
	}
	usleep(100 * 1000);
	cancel_expect(&fired_cb, -EINVAL, "fired poll");
	cancel_expect(&rd, -EINVAL, "completed read");

	reap_all();
	expect_no_more();
	EXPECT_RET(results[index_of(&poll_cb)], 0);
	CHECK(results[index_of(&fired_cb)] & POLLIN);
	EXPECT_RET(results[index_of(&rd)], 4096);
	CHECK(check_pattern(buf[1], 4096, 1));
	EXPECT_RET(results[index_of(&wr)], 4096);
	EXPECT_RET(results[index_of(&fs)], 0);
	if (dfd >= 0) {
		EXPECT_RET(results[index_of(&dio)], 4096);
		CHECK(check_pattern(buf[2], 4096, 1));
	}
	/* Reaped requests are unknown to io_cancel. */
	cancel_expect(&rd, -EINVAL, "reaped read");
	cancel_expect(&poll_cb, -EINVAL, "reaped cancelled poll");

	/* Polls that wait (and hold every worker of the threads engine), then reads queued
	 * behind them there: the reads cannot be cancelled while queued either, and complete
	 * normally; the last poll (queued too) is cancelled and completes once with res 0. */
	for (i = 0; i < WAITING_POLLS; i++) {
		io_prep_poll(&waiting[i], r[0], POLLIN);
		submit(&waiting[i]);
	}
	for (i = 0; i < QUEUED_READS; i++) {
		io_prep_pread(&queued[i], fd, buf[3] + i * 512, 512, i * 512);
		submit(&queued[i]);
	}
	for (i = 0; i < QUEUED_READS; i++)
		cancel_expect(&queued[i], -EINVAL, "read queued behind polls");
	cancel_expect(&waiting[WAITING_POLLS - 1], -EINPROGRESS, "poll queued behind polls");
	usleep(100 * 1000);
	CHECK(write(r[1], "x", 1) == 1);
	reap_all();
	expect_no_more();
	for (i = 0; i < WAITING_POLLS - 1; i++)
		CHECK(results[index_of(&waiting[i])] & POLLIN);
	EXPECT_RET(results[index_of(&waiting[WAITING_POLLS - 1])], 0);
	for (i = 0; i < QUEUED_READS; i++)
		EXPECT_RET(results[index_of(&queued[i])], 512);
	CHECK(check_pattern(buf[3], 4096, 1));

	EXPECT_RET(io_destroy(ctx), 0);
	if (dfd >= 0)
		close(dfd);
	return 0;
}
