/* DESC: O_DIRECT reads held in flight for seconds (a throttled block device) answer as kernel AIO's: a zero and a short timeout return 0, signals end waits with -EINTR (twice, with and without SA_RESTART), io_cancel says -EINVAL and the read still completes once, a completion reaches the ring after the program stopped calling io_getevents, and io_destroy wakes a waiting thread and returns only after its read has filled the buffer. */
#include "common.h"
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

/* Set by the test: a block device whose reads this process's cgroup throttles to a few
 * KiB a second (so a 16 KiB read takes about two seconds), and that cgroup. */
#define LEN 16384

static io_context_t ctx;
static long waiter_ret;

static void *waiter(void *arg)
{
	struct io_event ev[2];
	(void)arg;
	waiter_ret = io_getevents(ctx, 2, 2, ev, NULL);
	return NULL;
}

int main(void)
{
	const char *dev = getenv("AIOLOS_TEST_DEVICE"), *cg = getenv("AIOLOS_TEST_CGROUP");
	struct iocb cb, *ptr = &cb;
	struct io_event ev[2];
	struct timespec zero = {0, 0}, short_wait = {0, 50000000}, ten = {10, 0};
	struct sigaction sa;
	unsigned char *buf, *pattern;
	pthread_t t;
	char path[PATH_MAX], pid[32];
	int fd, cgfd, restart, n;

	require_our_library();
	if (!dev || !cg)
		FAIL("AIOLOS_TEST_DEVICE and AIOLOS_TEST_CGROUP are set by the Rust test");
	CHECK(posix_memalign((void **)&buf, 4096, LEN) == 0);
	CHECK(posix_memalign((void **)&pattern, 4096, LEN) == 0);

	/* The device's first 16 KiB get a pattern before the reads are throttled. */
	fd = open(dev, O_RDWR | O_DIRECT);
	if (fd < 0)
		FAIL("open(%s): %s", dev, strerror(errno));
	fill_pattern(pattern, LEN, 7);
	CHECK(pwrite(fd, pattern, LEN, 0) == LEN);
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	cgfd = open(path, O_WRONLY);
	CHECK(cgfd >= 0);
	n = snprintf(pid, sizeof(pid), "%d", (int)getpid());
	CHECK(write(cgfd, pid, n) == n);
	close(cgfd);

	EXPECT_RET(io_setup(8, &ctx), 0);

	/* In flight: a zero timeout and a short one find nothing. */
	memset(buf, 0, LEN);
	io_prep_pread(&cb, fd, buf, LEN, 0);
	cb.data = (void *)0x51;
	EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
	EXPECT_RET(io_getevents(ctx, 0, 2, ev, &zero), 0);
	EXPECT_RET(io_getevents(ctx, 1, 2, ev, &short_wait), 0);

	/* Signals end the waits, with and without SA_RESTART, and again for a second one. */
	for (restart = 0; restart < 2; restart++) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = count_alarm;
		sa.sa_flags = restart ? SA_RESTART : 0;
		CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
		alarm_hits = 0;
		arm_alarm(20, 0);
		EXPECT_RET(io_getevents(ctx, 1, 2, ev, NULL), -EINTR);
		CHECK(alarm_hits == 1);
		alarm_hits = 0;
		arm_alarm(20, 20);
		EXPECT_RET(io_getevents(ctx, 1, 2, ev, &ten), -EINTR);
		EXPECT_RET(io_getevents(ctx, 1, 2, ev, &ten), -EINTR);
		arm_alarm(0, 0);
		CHECK(alarm_hits >= 2);
	}

	/* A read on a block device cannot be cancelled; it completes once, in full. */
	EXPECT_RET(io_cancel(ctx, &cb, &ev[0]), -EINVAL);
	EXPECT_RET(io_getevents(ctx, 1, 2, ev, &ten), 1);
	CHECK(ev[0].obj == &cb && ev[0].data == (void *)0x51);
	CHECK(ev[0].res == LEN && ev[0].res2 == 0);
	CHECK(memcmp(buf, pattern, LEN) == 0);
	EXPECT_RET(io_getevents(ctx, 0, 2, ev, &zero), 0);

	/* The program slept in io_getevents above; now it stops calling the library and
	 * reads the ring itself: the next completion still reaches the ring. */
	memset(buf, 0, LEN);
	io_prep_pread(&cb, fd, buf, 4096, 0);
	cb.data = (void *)0x52;
	EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
	CHECK(ring_take(ctx, ev, 1) == 1);
	CHECK(ev[0].obj == &cb && ev[0].data == (void *)0x52 && ev[0].res == 4096);
	CHECK(memcmp(buf, pattern, 4096) == 0);

	/* io_destroy with the read in flight: the waiting thread gets -EINVAL, and io_destroy
	 * returns only once the read is done (its buffer filled). */
	memset(buf, 0, LEN);
	io_prep_pread(&cb, fd, buf, LEN, 0);
	EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
	CHECK(pthread_create(&t, NULL, waiter, NULL) == 0);
	usleep(100000);
	EXPECT_RET(io_destroy(ctx), 0);
	CHECK(memcmp(buf, pattern, LEN) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	EXPECT_RET(waiter_ret, -EINVAL);
	close(fd);
	free(buf);
	free(pattern);
	return 0;
}
